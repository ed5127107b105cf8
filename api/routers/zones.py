"""Territories and service points as GeoJSON: upload (insert or replace by id) and list.

Zones are (Multi)Polygons in WGS84 with `properties.id`, `name` and `region`; service points
and warehouses are Points with `properties.id`, `kind` (warehouse | service_point), `name`
and `zone`. Geometry is checked with shapely (valid, non-empty) before anything is stored.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from shapely.errors import GEOSException
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import ANY_OFFICE, OFFICE, Principal, require
from api.context import get_session
from api.models import DepotRow, ZoneRow
from api.store import new_depot_row
from api.types import Ident, Text
from dispatch.errors import InputError, InputErrors
from dispatch.models import Depot, DepotKind, GeoPoint
from dispatch.zones import Zone

router = APIRouter(tags=["zones and service points"])


class Geometry(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["Polygon", "MultiPolygon", "Point"]
    coordinates: list[Any] = Field(max_length=100_000)


class ZoneProps(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: Ident
    name: Text = ""
    region: Ident = "urban"


class ZoneFeature(BaseModel):
    type: Literal["Feature"]
    geometry: Geometry
    properties: ZoneProps


class ZoneCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[ZoneFeature] = Field(max_length=10_000)


class DepotProps(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: Ident
    kind: DepotKind
    name: Text = ""
    zone: Ident | None = None


class DepotFeature(BaseModel):
    type: Literal["Feature"]
    geometry: Geometry
    properties: DepotProps


class DepotCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[DepotFeature] = Field(max_length=10_000)


class UploadResult(BaseModel):
    stored: int
    ids: list[str]


def _zone(feature: ZoneFeature, k: int) -> Zone:
    where = f"features[{k}] zone {feature.properties.id!r}"
    if feature.geometry.type == "Point":
        raise InputError(where, "geometry.type", "a zone must be a Polygon or MultiPolygon")
    try:
        return Zone.from_geojson(
            {
                "geometry": feature.geometry.model_dump(),
                "properties": {"id": feature.properties.id, "name": feature.properties.name},
            }
        )
    except InputError as exc:
        raise InputError(where, exc.field, exc.message) from None
    except (GEOSException, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise InputError(where, "geometry.coordinates", f"not a valid polygon: {exc}") from None


@router.put("/zones", response_model=UploadResult, summary="Upload zones (GeoJSON polygons)")
def upload_zones(
    body: ZoneCollection,
    _p: Principal = Depends(require(*OFFICE)),
    session: Session = Depends(get_session),
) -> UploadResult:
    errors: list[InputError] = []
    zones: list[tuple[Zone, str]] = []
    for k, feature in enumerate(body.features):
        try:
            zones.append((_zone(feature, k), feature.properties.region))
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors)
    for zone, region in zones:
        row = session.get(ZoneRow, zone.id) or ZoneRow(id=zone.id)
        row.name, row.region = zone.name, region
        row.geometry = zone.to_geojson()["geometry"]
        session.add(row)
    session.commit()
    return UploadResult(stored=len(zones), ids=[z.id for z, _ in zones])


@router.get("/zones", summary="Zones as a GeoJSON FeatureCollection")
def list_zones(
    region: str | None = Query(None, max_length=32),
    _p: Principal = Depends(require(*ANY_OFFICE)),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    query = select(ZoneRow).order_by(ZoneRow.id)
    if region is not None:
        query = query.where(ZoneRow.region == region)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": z.geometry,
                "properties": {"id": z.id, "name": z.name, "region": z.region},
            }
            for z in session.scalars(query)
        ],
    }


@router.put(
    "/depots",
    response_model=UploadResult,
    summary="Upload warehouses and service points (GeoJSON points)",
)
def upload_depots(
    body: DepotCollection,
    _p: Principal = Depends(require(*OFFICE)),
    session: Session = Depends(get_session),
) -> UploadResult:
    errors: list[InputError] = []
    depots: list[Depot] = []
    for k, feature in enumerate(body.features):
        where = f"features[{k}] depot {feature.properties.id!r}"
        coords = feature.geometry.coordinates
        if feature.geometry.type != "Point":
            errors.append(InputError(where, "geometry.type", "a depot must be a Point"))
            continue
        if len(coords) < 2 or not all(isinstance(c, int | float) for c in coords[:2]):
            errors.append(InputError(where, "geometry.coordinates", "must be [lon, lat]"))
            continue
        p = feature.properties
        try:
            depots.append(
                Depot(p.id, p.kind, GeoPoint(float(coords[0]), float(coords[1])), p.name, p.zone)
            )
        except InputError as exc:
            errors.append(InputError(where, exc.field, exc.message))
    if errors:
        raise InputErrors(errors)
    for depot in depots:
        row = session.get(DepotRow, depot.id)
        fresh = new_depot_row(depot)
        if row is None:
            session.add(fresh)
        else:
            row.kind, row.zone, row.record = fresh.kind, fresh.zone, fresh.record
    session.commit()
    return UploadResult(stored=len(depots), ids=[d.id for d in depots])


@router.get("/depots", summary="Warehouses and service points as GeoJSON points")
def list_depots(
    _p: Principal = Depends(require(*ANY_OFFICE)),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    features = []
    for row in session.scalars(select(DepotRow).order_by(DepotRow.id)):
        r = row.record
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": {"id": row.id, "kind": row.kind, "name": r["name"], "zone": row.zone},
            }
        )
    return {"type": "FeatureCollection", "features": features}
