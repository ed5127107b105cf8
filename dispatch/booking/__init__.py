"""Slot quotes and bookings (issue 20 §1): which appointment slots a new order can be
promised, checked with the planner's own rules against the work already booked.

* `slots`: the slot grid (2-hour slots over the next days) and a slot;
* `order`: a new order (one job, or a delivery and its installation) and its jobs;
* `tentative`: the day's booked jobs on the crews' routes (the planner's greedy pass);
* `insertion`: the fast check: the cheapest place for a job in a slot, and the driving it adds;
* `gaps`: the tentative day's gaps as arrays, and a bound that skips trials that surely fail;
* `greedy`: the tentative day placed with those arrays (the planner's last pass, faster);
* `day_quote`: one day with the order's jobs added, tried slot by slot;
* `prepared`, `added_points`, `keys`: a day translated and indexed once, extended by each
  order's rows (its addresses' travel times added to the day's matrices);
* `quotes`: the options of an order (pairs for a delivery and its installation), each
  labelled with its promise on the customer's clock and its added driving; the check a
  booking repeats before it takes one.

The service (`api.services.quotes`, `api.services.bookings`) stores quotes and takes
bookings atomically; nothing here knows storage or HTTP.
"""
