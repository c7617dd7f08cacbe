def pH_of_stomach_acid(hydronium_molarity):
    """pH of stomach acid = -log([H3O^+])."""
    return -math.log10(hydronium_molarity)
