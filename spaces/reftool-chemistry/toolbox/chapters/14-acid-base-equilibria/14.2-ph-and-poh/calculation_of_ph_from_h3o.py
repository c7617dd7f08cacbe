def calculation_of_ph_from_h3o(hydronium_concentration):
    """Calculation of pH from [H3O^+]: pH from hydronium concentration (M).

    Args:
        hydronium_concentration: M
    """
    # Calculate pH
    pH = -math.log10(hydronium_concentration)
    return pH
