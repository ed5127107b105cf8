"""Figures: a plan's KPIs, the service metrics over stored jobs and events, and the promise
shares on the customer's clock (calendar hours from the order)."""
