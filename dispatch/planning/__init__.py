"""Planning a day: screening, zone decomposition, the solves, assembly and the insertion
repair (`planner.make_plan` is the entry point).

`routed_day` is the one home of a day in routing form; the running day (`dispatch.running`)
uses it too. The translation itself (`dispatch.translate`) sits one floor down, beside the
plan validator that also reads it.
"""
