def average_mass_from_isotopes(isotopes, percentages):
    """Average mass = sum of (isotopes[i] * percentages[i]) for i in range(len(isotopes))."""
    return sum(isotopes[i] * percentages[i] for i in range(len(isotopes)))
