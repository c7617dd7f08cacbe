def density_from_displacement(mass_g, volume_cm3):
    """Density in g/cm^3 = mass (g) / volume (cm^3) using water displacement."""
    # Initial density of water is 1.00 g/cm^3
    density_water = 1.00
    # Volume of water displaced by the sample
    volume_displaced = mass_g / density_water
    return volume_displaced / volume_cm3
