def average_mass(isotopes, masses):
    """Average mass of an element."""
    return sum(mass * fraction for mass, fraction in zip(masses, isotopes))
