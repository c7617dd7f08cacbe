def P_solution(mass_glycerin, mass_ethanol, vapor_pressure_ethanol_at_40_C, molar_mass_glycerin=92.094, molar_mass_ethanol=46.069):
    """Calculation of a Vapor Pressure: P solution from mass glycerin (g), mass ethanol (g), vapor pressure ethanol at 40 C (atm).

    Args:
        mass_glycerin: g
        mass_ethanol: g
        vapor_pressure_ethanol_at_40_C: atm
        molar_mass_glycerin: g/mol
        molar_mass_ethanol: g/mol
    """
    # Calculate moles of each component
    moles_glycerin = mass_glycerin / molar_mass_glycerin
    moles_ethanol = mass_ethanol / molar_mass_ethanol
    # Calculate mole fraction of ethanol
    X_ethanol = moles_ethanol / (moles_glycerin + moles_ethanol)
    # Calculate vapor pressure of the solution using Raoult's law
    P_solution = X_ethanol * vapor_pressure_ethanol_at_40_C
    return P_solution
