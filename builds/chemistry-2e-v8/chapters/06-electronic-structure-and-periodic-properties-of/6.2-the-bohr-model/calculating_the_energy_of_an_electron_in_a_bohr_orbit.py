def calculating_the_energy_of_an_electron_in_a_bohr_orbit(n, k=2.179e-18, Z=1):
    """Calculating the Energy of an Electron in a Bohr Orbit: E from n.

    Args:
        n: electron's orbit number
        k: J
        Z: atomic number of hydrogen
    """
    # Step 1: Calculate the energy of the electron
    E = -k * Z**2 / n**2
    return E
