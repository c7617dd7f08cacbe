def C_g_lower(C_g_initial, P_g_initial, P_g_lower):
    """Application of Henry’s Law: C g lower from C g initial (mol L^-1), P g initial (kPa), P g lower (kPa).

    Args:
        C_g_initial: mol L^-1
        P_g_initial: kPa
        P_g_lower: kPa
    """
    # Henry's law constant
    k = C_g_initial / P_g_initial
    # Solubility at the lower pressure
    C_g_lower = k * P_g_lower
    return C_g_lower
