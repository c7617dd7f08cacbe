def predicting_change_in_pressure_with_temperature(P1, T1, T2):
    """Predicting Change in Pressure with Temperature: P2 from P1, T1, T2.

    Args:
        P1: initial pressure in kPa
        T1: initial temperature in °C
        T2: final temperature in °C
    """
    # Convert temperatures to Kelvin
    T1_k = T1 + 273.15
    T2_k = T2 + 273.15
    # Apply Amontons's/Gay-Lussac's law
    P2 = (P1 * T2_k) / T1_k
    return P2
