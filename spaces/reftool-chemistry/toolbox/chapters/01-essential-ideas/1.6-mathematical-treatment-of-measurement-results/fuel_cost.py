def fuel_cost(gasoline_liters, gasoline_cost_per_gallon):
    """Computing Quantities from Measurement Results and Known Mathematical Relations: fuel cost from gasoline liters (gasoline in liters), gasoline cost per gallon.

    Args:
        gasoline_liters: gasoline in liters
        gasoline_cost_per_gallon: cost of gasoline per gallon
    """
    # Step 2: Convert volume from liters to gallons
    gasoline_gallons = gasoline_liters * (1.0567 / 4)  # volume in gallons
    # Step 4: Calculate fuel cost
    fuel_cost = gasoline_gallons * gasoline_cost_per_gallon  # fuel cost in dollars
    return fuel_cost
