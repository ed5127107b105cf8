"""The dispatch domain: jobs, crews, promises and plans, and what is done with them.

The modules at this level are the domain's words, used everywhere below: `models` (jobs,
crews, depots), `day_problem` (one day's jobs and crews), `plan`, `promises`, `products`,
`service_time`, `zones`, `errors`; `translate` (the domain in routing types, with the day's
travel model) and the independent `plan_validator`. The sub-packages
are named by what they serve:

* `planning`: planning a day (screening, decomposition, translation, solve, assembly);
* `running`: the running day (overrides, re-plan, explanations, life-cycle, driver view);
* `files`: input and output (records, importers, plan and problem files, GeoJSON);
* `metrics`: plan KPIs, service metrics, the customer's clock;
* `season`: the peak-season simulator and its report;
* `benchmarks`: the home-healthcare benchmark adapter.

`docs/architecture.md` draws the floors and what each may import.
"""
