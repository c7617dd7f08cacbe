def E_a_b(reactant_energy_b, transition_state_energy_b):
    """Reaction Diagrams for Catalyzed Reactions: E a b from reactant energy b (in kJ), transition state energy b (in kJ).

    Args:
        reactant_energy_b: in kJ
        transition_state_energy_b: in kJ
    """
    E_a_b = transition_state_energy_b - reactant_energy_b
    return E_a_b
