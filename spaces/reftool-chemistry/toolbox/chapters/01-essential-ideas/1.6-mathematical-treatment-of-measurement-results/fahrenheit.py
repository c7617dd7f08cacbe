def fahrenheit(celsius):
    """Conversion from Celsius: fahrenheit from celsius.

    Args:
        celsius: temperature in Celsius
    """
    # Convert Celsius to Fahrenheit
    fahrenheit = (9/5) * celsius + 32.0  # temperature in Fahrenheit
    return fahrenheit
