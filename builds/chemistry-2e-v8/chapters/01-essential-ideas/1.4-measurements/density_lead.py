def density_lead(mass_lead, edge_length_lead):
    """Calculation of Density: density lead from mass lead (in grams), edge length lead (in centimeters).

    Args:
        mass_lead: in grams
        edge_length_lead: in centimeters
    """
    # Calculate the volume of the lead cube
    volume_lead = edge_length_lead ** 3  # in cubic centimeters
    # Calculate the density of lead
    density_lead = mass_lead / volume_lead  # in grams per cubic centimeter
    return density_lead
