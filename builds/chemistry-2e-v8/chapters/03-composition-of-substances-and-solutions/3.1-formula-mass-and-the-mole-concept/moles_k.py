def moles_k(mass_k, molar_mass_k=39.10):
    """Deriving Moles from Grams for an Element: moles k from mass k (g).

    Args:
        mass_k: g
        molar_mass_k: g/mol
    """
    # Calculate moles of K
    moles_k = mass_k / molar_mass_k
    return moles_k
