def average_mass_neon(mass_neon_20, mass_neon_21, mass_neon_22, fraction_neon_20, fraction_neon_21, fraction_neon_22):
    """Calculation of Average Atomic Mass: average mass neon from mass neon 20 (amu), mass neon 21 (amu), mass neon 22 (amu), fraction neon 20, fraction neon 21, fraction neon 22.

    Args:
        mass_neon_20: amu
        mass_neon_21: amu
        mass_neon_22: amu
        fraction_neon_20: as in the worked example
        fraction_neon_21: as in the worked example
        fraction_neon_22: as in the worked example
    """
    # Calculate the average mass of neon in the solar wind
    average_mass_neon = (fraction_neon_20 * mass_neon_20) + (fraction_neon_21 * mass_neon_21) + (fraction_neon_22 * mass_neon_22)
    return average_mass_neon
