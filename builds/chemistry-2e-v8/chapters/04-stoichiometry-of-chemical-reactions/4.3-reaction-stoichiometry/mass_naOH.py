def mass_naOH(mass_mgOH2, molar_mass_mgOH2=58.3, molar_mass_naOH=40.0):
    """Relating Masses of Reactants and Products: mass naOH from mass mgOH2 (in grams).

    Args:
        mass_mgOH2: in grams
        molar_mass_mgOH2: in grams/mol
        molar_mass_naOH: in grams/mol
    """
    # Step 1: Calculate moles of Mg(OH)2
    moles_mgOH2 = mass_mgOH2 / molar_mass_mgOH2
    # Step 2: Calculate moles of NaOH
    moles_naOH = 2 * moles_mgOH2
    # Step 3: Calculate mass of NaOH
    mass_naOH = moles_naOH * molar_mass_naOH
    return mass_naOH
