from math import log10

def cell_potential(Fe2_plus, Cu2_plus):
    """Standard cell potential in V = E_cathode - E_anode."""
    E_Cu = 0.7996
    E_Fe = 0.34
    E_cell = E_Cu - E_Fe
    return E_cell
