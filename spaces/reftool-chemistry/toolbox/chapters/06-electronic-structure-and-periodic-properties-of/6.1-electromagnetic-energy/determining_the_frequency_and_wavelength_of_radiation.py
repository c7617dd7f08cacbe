def determining_the_frequency_and_wavelength_of_radiation(wavelength, c=2.998 * 10**8):
    """Determining the Frequency and Wavelength of Radiation: nu from wavelength (nm).

    Args:
        wavelength: nm
        c: m/s
    """
    # Steps to calculate frequency
    nu = c / wavelength  # frequency in Hz
    return nu
