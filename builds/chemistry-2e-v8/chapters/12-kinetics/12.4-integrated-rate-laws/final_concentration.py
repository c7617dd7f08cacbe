def final_concentration(initial_concentration, rate_constant, time):
    """The Integrated Rate Law for a Second-Order Reaction: final concentration from initial concentration (mol/L), rate constant (L/mol/min), time (min).

    Args:
        initial_concentration: mol/L
        rate_constant: L/mol/min
        time: min
    """
    # Integrated rate law for a second-order reaction
    # 1/([A]_t) = kt + 1/([A]_0)
    # Solving for [A]_t
    final_concentration = 1 / (rate_constant * time + 1 / initial_concentration)
    return final_concentration
