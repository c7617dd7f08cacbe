import math

def energy_in_joules(n, a):
    """Energy (J) at a distance 'a' from the nucleus with 'n' electrons."""
    Z = 1
    k = 2.179e-18
    return -k * Z**2 / (n**2)
