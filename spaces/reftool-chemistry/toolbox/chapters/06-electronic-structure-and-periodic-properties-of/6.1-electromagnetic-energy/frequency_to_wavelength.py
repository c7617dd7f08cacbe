def frequency_to_wavelength(frequency_hz):
    """Wavelength (m) = c / frequency (Hz)."""
    return 2.998e8 / frequency_hz
