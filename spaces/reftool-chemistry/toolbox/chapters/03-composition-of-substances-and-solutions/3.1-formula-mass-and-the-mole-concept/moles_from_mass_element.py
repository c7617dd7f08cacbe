def moles_from_mass_element(mass_g, atomic_mass_g):
    """Moles of an element = mass (g) / atomic mass (g)."""
    return mass_g / atomic_mass_g
