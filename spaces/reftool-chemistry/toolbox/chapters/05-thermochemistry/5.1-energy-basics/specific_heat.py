def specific_heat(mass, heat, initial_temp, final_temp):
    """Determining Other Quantities: specific heat from mass (in grams), heat (in joules), initial temp (in degrees Celsius), final temp (in degrees Celsius).

    Args:
        mass: in grams
        heat: in joules
        initial_temp: in degrees Celsius
        final_temp: in degrees Celsius
    """
    # Calculate the specific heat
    specific_heat = heat / (mass * (final_temp - initial_temp))  # in joules per gram per degree Celsius
    return specific_heat
