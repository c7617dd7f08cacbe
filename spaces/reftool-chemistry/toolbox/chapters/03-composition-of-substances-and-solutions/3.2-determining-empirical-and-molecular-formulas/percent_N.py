def percent_N(mass_compound, mass_N):
    """Calculation of Percent Composition: percent N from mass compound (g), mass N (g).

    Args:
        mass_compound: g
        mass_N: g
    """
    percent_N = (mass_N / mass_compound) * 100
    return percent_N
