"""Personal data in the domain: which fields are the customer's, and how a location is shown
to the roles that may not see them.

Dispatchers and admins see every job's customer; a driver sees the stops of his own route.
Planners and managers work on figures: they get no names, phones or addresses, and no door
either: coordinates coarsened to about a kilometre, floor and lift left out.
"""

from __future__ import annotations

from typing import Any

#: the customer's fields in a job record
PERSONAL_FIELDS: tuple[str, ...] = ("address", "customer_name", "customer_phone")

#: decimals a customer's coordinates keep for the roles that do not see personal data
#: (planners, managers): 0.01 degree, about 1.1 km north-south and 0.95 km east-west in
#: Shanghai, enough for density maps and zone figures, not enough to find a door
COARSE_DECIMALS = 2


def coarse(degrees: float) -> float:
    """A customer's longitude or latitude as the roles without personal data see it."""
    return round(float(degrees), COARSE_DECIMALS)


def coarse_job_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A job record (or a stop) without what locates the customer's door: coordinates
    coarsened (`COARSE_DECIMALS`), the floor and lift left out. A new dict."""
    out = dict(record)
    for key in ("lon", "lat"):
        if out.get(key) is not None:
            out[key] = coarse(out[key])
    for key in ("floor", "has_lift"):
        if key in out:
            out[key] = None
    return out
