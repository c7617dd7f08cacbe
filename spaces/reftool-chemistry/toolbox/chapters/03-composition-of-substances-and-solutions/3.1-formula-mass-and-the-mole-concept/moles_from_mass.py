def moles_from_mass(mass_g, molar_mass_g_per_mol):
    """Number of moles = mass (g) / molar mass (g/mol)."""
    return mass_g / molar_mass_g_per_mol
