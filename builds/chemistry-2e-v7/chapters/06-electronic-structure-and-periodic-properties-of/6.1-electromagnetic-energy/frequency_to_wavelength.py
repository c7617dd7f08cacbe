def frequency_to_wavelength(frequency_hz, c=2.99792458e8):
    """Wavelength (m) = c / frequency (Hz)."""
    return c / frequency_hz
