def percent_N(mass_compound, mass_C, mass_H, mass_N):
    """Calculation of Percent Composition: percent N from mass compound (g), mass C (g), mass H (g), mass N (g).

    Args:
        mass_compound: g
        mass_C: g
        mass_H: g
        mass_N: g
    """
    # Calculate percent composition
    percent_C = (mass_C / mass_compound) * 100
    percent_H = (mass_H / mass_compound) * 100
    percent_N = (mass_N / mass_compound) * 100
    return percent_N
