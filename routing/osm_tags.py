"""Which OSM ways a car may drive, in which direction, and how fast: the tag rules.

The road graph (`routing.road_graph`) keeps a way only if `drivable_speed` gives it a speed
and `way_directions` a direction. Rules (documented in docs/routing.md, "Road-network travel
times"):

* Speed of an edge: the way's numeric `maxspeed` (km/h, or mph converted) when present,
  otherwise `DEFAULT_SPEEDS_KMH` by road class. Free-flow seconds = metres / speed.
* Direction: `oneway=yes|true|1` forward only, `oneway=-1|reverse` backward only,
  `junction=roundabout|circular` and `highway=motorway|motorway_link` are one-way forward
  unless `oneway=no`; `oneway=reversible|alternating` ways are left out (no fixed direction).
  Ways tagged `access=no`, `motor_vehicle=no`, `motorcar=no`, `vehicle=no` or `area=yes` are
  left out; `access=private` is kept (crews do drive into estates and campuses).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: free-flow speed (km/h) by OSM road class when a way has no usable `maxspeed`; urban
#: figures, below the legal limits, since a city trip also brakes for junctions and lights
DEFAULT_SPEEDS_KMH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 45.0,
    "trunk": 70.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 30.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 35.0,
    "tertiary_link": 25.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 25.0,
}
#: ways implied one-way by OSM convention unless tagged `oneway=no`
_IMPLIED_ONEWAY = frozenset({"motorway", "motorway_link"})
_NO_ACCESS = frozenset({"no"})
_ACCESS_KEYS = ("access", "vehicle", "motor_vehicle", "motorcar")


def parse_maxspeed(value: str | None) -> float | None:
    """km/h from an OSM `maxspeed` value ("50", "50 km/h", "30 mph"), None if not numeric.

    Zone codes such as "RU:urban" or "none" give None, so the road-class speed applies.
    """
    if not value:
        return None
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", value.split(";")[0])
    if not m:
        return None
    speed = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
    return speed if speed > 0 else None


def way_directions(tags: Mapping[str, str]) -> tuple[bool, bool] | None:
    """(forward, backward) travel allowed on a way, None if it has no fixed direction."""
    oneway = tags.get("oneway", "").strip().lower()
    if oneway in ("reversible", "alternating"):
        return None
    if oneway in ("yes", "true", "1"):
        return True, False
    if oneway in ("-1", "reverse"):
        return False, True
    if oneway == "no":
        return True, True
    if tags.get("junction") in ("roundabout", "circular"):
        return True, False
    if tags.get("highway") in _IMPLIED_ONEWAY:
        return True, False
    return True, True


def drivable_speed(tags: Mapping[str, str], speeds_kmh: Mapping[str, float]) -> float | None:
    """Free-flow km/h of a way if motor vehicles may use it, else None."""
    highway = tags.get("highway")
    if highway is None or highway not in speeds_kmh or tags.get("area") == "yes":
        return None
    if any(tags.get(k) in _NO_ACCESS for k in _ACCESS_KEYS):
        return None
    return parse_maxspeed(tags.get("maxspeed")) or float(speeds_kmh[highway])
