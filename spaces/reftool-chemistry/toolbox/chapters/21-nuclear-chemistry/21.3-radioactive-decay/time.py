def time(activity_now, activity_initial, half_life=5730):
    """Radiocarbon Dating: time from activity now, activity initial.

    Args:
        activity_now: disintegrations per minute per gram of carbon
        activity_initial: disintegrations per minute per gram of carbon
        half_life: years
    """
    # Calculate decay constant
    decay_constant = (math.log(2)) / half_life  # y^-1
    # Calculate time using the formula
    time = -1 / decay_constant * math.log(activity_now / activity_initial)  # years
    return time
