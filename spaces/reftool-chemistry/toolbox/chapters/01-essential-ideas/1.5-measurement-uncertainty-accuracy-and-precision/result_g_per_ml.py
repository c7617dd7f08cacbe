def result_g_per_ml(mL, g):
    """Multiplication and Division with Significant Figures: result g per ml from mL, g.

    Args:
        mL: as in the worked example
        g: as in the worked example
    """
    # (b) Divide 421.23 g by 486 mL.
    # We round the result to the same number of significant figures as the least certain value, which is mL in this case.
    # The division result in g/mL is 0.866728. Rounding to three significant figures, we get 0.867 g/mL.
    result_g_per_ml = round(g / mL, 3)
    return result_g_per_ml
