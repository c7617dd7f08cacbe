def volume_of_a_gas_sample(P1, V1, V2):
    """Volume of a Gas Sample: P2 from P1 (psi), V1 (mL), V2 (mL).

    Args:
        P1: psi
        V1: mL
        V2: mL
    """
    # Boyle's law equation: P1V1 = P2V2
    P2 = (P1 * V1) / V2
    return P2
