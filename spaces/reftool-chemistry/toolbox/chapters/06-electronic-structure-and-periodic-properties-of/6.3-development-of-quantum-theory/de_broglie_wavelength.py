def de_broglie_wavelength(mass_kg, velocity_mps):
    """Wavelength of a particle (m) = h / (m * v)."""
    h = 6.626e-34  # Planck's constant in J*s
    return h / (mass_kg * velocity_mps)
