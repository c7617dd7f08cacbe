def moles_from_g(mass_g, molar_mass_g_per_mol):
    """Moles of a substance = mass (g) / molar mass (g/mol)."""
    return mass_g / molar_mass_g_per_mol
