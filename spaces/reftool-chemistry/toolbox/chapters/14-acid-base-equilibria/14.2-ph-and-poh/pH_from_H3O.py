def pH_from_H3O(H3O_molar):
    """pH = -log[H_3O^+]."""
    return -math.log10(H3O_molar)
