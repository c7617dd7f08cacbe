def wavelength_de_broglie(mass_g, velocity_m_s):
    """Wavelength in meters = h/mv, where h = 6.626e-34."""
    h = 6.626e-34
    mass_kg = mass_g / 1000  # Convert mass from grams to kilograms
    return h / (mass_kg * velocity_m_s)
