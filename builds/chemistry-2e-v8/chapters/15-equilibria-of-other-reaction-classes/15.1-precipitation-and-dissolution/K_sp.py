def K_sp(Ca_concentration):
    """Calculation of K_sp from Equilibrium Concentrations: K sp from Ca concentration (M).

    Args:
        Ca_concentration: M
    """
    F_concentration = 2 * Ca_concentration  # M
    # Solubility product constant (K_sp)
    K_sp = Ca_concentration * F_concentration**2
    return K_sp
