def molarity_of_sucrose(mole_of_sucrose, volume_of_solution):
    """Calculating Molar Concentrations: molarity of sucrose from mole of sucrose (mol), volume of solution (mL).

    Args:
        mole_of_sucrose: mol
        volume_of_solution: mL
    """
    # Convert volume to liters
    volume_of_solution_l = volume_of_solution / 1000  # L
    # Calculate molarity
    molarity_of_sucrose = mole_of_sucrose / volume_of_solution_l  # mol/L
    return molarity_of_sucrose
