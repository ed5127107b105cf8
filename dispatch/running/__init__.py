"""The running day: a dispatcher's overrides, re-planning from the day's events, explanations
of unassigned and late jobs, a job's life-cycle, the driver's view of a route, plan diffs and
the callback guarantee."""
