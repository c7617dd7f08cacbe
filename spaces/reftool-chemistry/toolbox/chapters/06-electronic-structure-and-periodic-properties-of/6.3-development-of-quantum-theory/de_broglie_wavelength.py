def de_broglie_wavelength(mass_kg, velocity_mps):
    """De Broglie wavelength in m = h/mv, where h = 6.626e-34 J s."""
    h = 6.626e-34
    return h / (mass_kg * velocity_mps)
