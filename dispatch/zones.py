"""Zone territories: named polygons (WGS84) that split a region for dispatch.

A job belongs to the zone whose polygon contains it (first match; ties on borders go to the
earlier zone); crews have a home zone. Zones are the unit of decomposition for large days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from dispatch.errors import InputError
from dispatch.models import GeoPoint


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    polygon: BaseGeometry

    def __post_init__(self) -> None:
        rec = f"zone {self.id!r}"
        if self.polygon.is_empty or self.polygon.geom_type not in ("Polygon", "MultiPolygon"):
            raise InputError(rec, "polygon", "must be a non-empty Polygon or MultiPolygon")
        if not self.polygon.is_valid:
            raise InputError(rec, "polygon", "is not a valid polygon (self-intersecting?)")

    def to_geojson(self) -> dict:
        return {
            "type": "Feature",
            "geometry": mapping(self.polygon),
            "properties": {"feature": "zone", "zone_id": self.id, "name": self.name},
        }

    @staticmethod
    def from_geojson(feature: dict) -> Zone:
        props = feature.get("properties") or {}
        zone_id = str(props.get("zone_id") or props.get("id") or "")
        return Zone(zone_id, str(props.get("name", zone_id)), shape(feature["geometry"]))


def locate(points: Sequence[GeoPoint], zones: Sequence[Zone]) -> list[str | None]:
    """The id of the zone containing each point, or None when no zone does (vectorised)."""
    if not zones or not points:
        return [None] * len(points)
    geoms = shapely.points([(p.lon, p.lat) for p in points])
    result: list[str | None] = [None] * len(points)
    todo = np.ones(len(points), dtype=bool)
    for zone in zones:
        shapely.prepare(zone.polygon)
        inside = shapely.covers(zone.polygon, geoms) & todo
        for k in np.flatnonzero(inside):
            result[int(k)] = zone.id
        todo &= ~inside
    return result


def region_outline(zones: Sequence[Zone]) -> BaseGeometry:
    """The union of all zone polygons: the area the region serves."""
    return shapely.union_all([z.polygon for z in zones])


__all__ = ["Polygon", "Zone", "locate", "region_outline"]
