def fuel_cost(distance_km, gasoline_liters, gasoline_cost_per_gallon):
    """Computing Quantities from Measurement Results and Known Mathematical Relations: fuel cost from distance km, gasoline liters (gasoline in liters), gasoline cost per gallon.

    Args:
        distance_km: distance in kilometers
        gasoline_liters: gasoline in liters
        gasoline_cost_per_gallon: cost of gasoline per gallon
    """
    # Step 1: Convert distance from kilometers to miles
    distance_miles = distance_km * 0.62137  # distance in miles
    # Step 2: Convert volume from liters to gallons
    gasoline_gallons = gasoline_liters * (1.0567 / 4)  # volume in gallons
    # Step 3: Calculate average mileage
    average_mileage = distance_miles / gasoline_gallons  # average mileage in miles per gallon
    # Step 4: Calculate fuel cost
    fuel_cost = gasoline_gallons * gasoline_cost_per_gallon  # fuel cost in dollars
    return fuel_cost
