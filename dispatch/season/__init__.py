"""The peak-season simulator: day-by-day demand, planning and execution over a season, the
capacity recommendation, and its report (the `report*` modules, kept apart from the model:
nothing in the model imports them)."""
