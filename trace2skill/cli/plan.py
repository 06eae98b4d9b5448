"""``trace2skill plan``: see trace2skill/plan.py."""
