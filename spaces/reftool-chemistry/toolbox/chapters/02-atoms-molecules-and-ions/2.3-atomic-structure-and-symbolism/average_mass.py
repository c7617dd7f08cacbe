def average_mass(isotopes, masses):
    """Average mass = sum of (fraction of isotope * mass of isotope)."""
    total_mass = 0
    for i in range(len(isotopes)):
        total_mass += (isotopes[i] / 100) * masses[i]
    return total_mass
