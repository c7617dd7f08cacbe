def moles_of_i2(moles_of_aluminum, stoichiometric_factor=3 / 2):
    """Moles of Reactant Required in a Reaction: moles of i2 from moles of aluminum (mol).

    Args:
        moles_of_aluminum: mol
        stoichiometric_factor: mol I_2 / mol Al
    """
    # Calculate moles of iodine
    moles_of_i2 = moles_of_aluminum * stoichiometric_factor
    return moles_of_i2
