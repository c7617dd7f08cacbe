def wavelength_from_frequency(frequency_hz):
    """Wavelength in nm = c / frequency (Hz)."""
    c = 2.998e8  # speed of light in m/s
    return c / frequency_hz
