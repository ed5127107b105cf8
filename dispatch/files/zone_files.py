"""Zones from the files planners draw them in: GeoJSON, Shapefile or GeoPackage, in any CRS.

Zone boundaries come out of GIS tools (QGIS, ArcGIS) or a city's open data, often as a
Shapefile or GeoPackage in a projected system (UTM, CGCS2000 Gauss-Kruger) rather than in
longitude and latitude. `read_zones` reads any of them through geopandas (its pyogrio
engine), reprojects to WGS-84 (EPSG:4326), and with `coords="gcj02"` converts boundaries
drawn on a Chinese map (AMap, Tencent) the way job and depot files are converted
(`dispatch.files.coords`). GeoJSON with no CRS is WGS-84 (RFC 7946).

Each feature is one zone: its id from a `zone_id` or `id` column, its name from `name`
(the id when absent), a Polygon or MultiPolygon. Every problem is an `InputError` naming the
file's feature (1-based) and the field; all of a file's problems come together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from dispatch.errors import InputError, InputErrors
from dispatch.files.coords import gcj02_to_wgs84
from dispatch.record_rules import check_id, check_text
from dispatch.zones import Zone

#: the file kinds `read_zones` accepts, by suffix
ZONE_SUFFIXES = (".geojson", ".json", ".shp", ".zip", ".gpkg")
ID_COLUMNS = ("zone_id", "id")


def read_zones(path: Path, coords: str = "wgs84") -> list[Zone]:
    """The zones of a GeoJSON, Shapefile (.shp or a zipped one) or GeoPackage file."""
    import geopandas

    where = f"zones file {path.name}"
    if path.suffix.lower() not in ZONE_SUFFIXES:
        raise InputError(where, "file", f"expected one of {', '.join(ZONE_SUFFIXES)}")
    try:
        frame = geopandas.read_file(path)
    except Exception as exc:  # pyogrio's errors: not found, not a vector file, bad zip...
        raise InputError(where, "file", f"cannot be read as zones: {exc}") from exc
    if frame.empty:
        raise InputError(where, "file", "holds no features")
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    id_column = next((c for c in ID_COLUMNS if c in frame.columns), None)
    if id_column is None:
        raise InputError(where, "zone_id", "no zone_id or id column")
    errors: list[InputError] = []
    zones: list[Zone] = []
    seen: dict[str, int] = {}
    for n, (raw_id, geometry, name) in enumerate(
        zip(frame[id_column], frame.geometry, _names(frame), strict=True), start=1
    ):
        record = f"{where} feature {n}"
        zone_id = "" if raw_id is None or raw_id != raw_id else str(raw_id).strip()
        if not zone_id:
            errors.append(InputError(record, id_column, "is empty"))
            continue
        record = f"{where} zone {zone_id}"
        if zone_id in seen:
            errors.append(InputError(record, id_column, f"repeats feature {seen[zone_id]}"))
            continue
        seen[zone_id] = n
        rule_broken = _rule_problem(zone_id, name)
        if rule_broken:
            errors.append(InputError(record, *rule_broken))
            continue
        problem = _geometry_problem(geometry)
        if problem:
            errors.append(InputError(record, "geometry", problem))
            continue
        if coords == "gcj02":
            geometry = _gcj02_to_wgs84(geometry)
        zones.append(Zone(zone_id, name or zone_id, geometry))
    if errors:
        raise InputErrors(errors)
    return zones


def _names(frame: Any) -> list[str]:
    if "name" not in frame.columns:
        return [""] * len(frame)
    return ["" if v is None or v != v else str(v) for v in frame["name"]]


def _rule_problem(zone_id: str, name: str) -> tuple[str, str] | None:
    """The field and the problem when the id or name breaks the record rules (ids as for
    jobs and crews, the name as free text: `dispatch.record_rules`), else None."""
    for field_name, value, check in (("zone_id", zone_id, check_id), ("name", name, check_text)):
        try:
            check(value)
        except ValueError as exc:
            return field_name, str(exc)
    return None


def _geometry_problem(geometry: BaseGeometry | None) -> str:
    """Why a feature's geometry cannot be a zone ("" when it can)."""
    if geometry is None or geometry.is_empty:
        return "is empty"
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        return f"is a {geometry.geom_type}, a zone needs a Polygon or MultiPolygon"
    if not geometry.is_valid:
        return f"is not a valid polygon ({shapely.is_valid_reason(geometry)})"
    return ""


def _gcj02_to_wgs84(geometry: BaseGeometry) -> BaseGeometry:
    def convert(xy: np.ndarray) -> np.ndarray:
        return np.array([gcj02_to_wgs84(float(x), float(y)) for x, y in xy])

    return shapely.transform(geometry, convert)
