def vapor_pressure_solution(mass_glycerin, mass_ethanol, temperature_C, vapor_pressure_ethanol, molar_mass_glycerin=92.094, molar_mass_ethanol=46.069):
    """Calculation of a Vapor Pressure: vapor pressure solution from mass glycerin (g), mass ethanol (g), temperature C (°C), vapor pressure ethanol (atm).

    Args:
        mass_glycerin: g
        mass_ethanol: g
        temperature_C: °C
        vapor_pressure_ethanol: atm
        molar_mass_glycerin: g/mol
        molar_mass_ethanol: g/mol
    """
    # Calculate molar amounts
    molar_amount_glycerin = mass_glycerin / molar_mass_glycerin
    molar_amount_ethanol = mass_ethanol / molar_mass_ethanol
    # Calculate mole fraction of ethanol
    mole_fraction_ethanol = molar_amount_ethanol / (molar_amount_glycerin + molar_amount_ethanol)
    # Calculate vapor pressure of the solution
    vapor_pressure_solution = mole_fraction_ethanol * vapor_pressure_ethanol
    return vapor_pressure_solution
