def K_b(C8H10N4O2, C8H10N4O2H_plus, OH_minus):
    """Determination of K_b from Equilibrium Concentrations: K b from C8H10N4O2 (M), C8H10N4O2H plus (M), OH minus (M).

    Args:
        C8H10N4O2: M
        C8H10N4O2H_plus: M
        OH_minus: M
    """
    # Calculate K_b
    K_b = (C8H10N4O2H_plus * OH_minus) / C8H10N4O2
    return K_b
