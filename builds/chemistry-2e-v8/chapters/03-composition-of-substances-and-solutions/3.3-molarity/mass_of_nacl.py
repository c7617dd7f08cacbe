def mass_of_nacl(molarity, volume, molar_mass=58.44):
    """Determining the Mass of Solute in a Given Volume of Solution: mass of nacl from molarity (mol/L), volume (L).

    Args:
        molarity: mol/L
        volume: L
        molar_mass: g/mol
    """
    # Step 1: Calculate the number of moles of NaCl
    moles_of_nacl = molarity * volume
    # Step 2: Calculate the mass of NaCl
    mass_of_nacl = moles_of_nacl * molar_mass
    return mass_of_nacl
