"""Territories and service points as GeoJSON: upload (insert or replace by id) and list.

Zones are (Multi)Polygons in WGS84 with `properties.id`, `name` and `region`; service points
and warehouses are Points with `properties.id`, `kind` (warehouse | service_point), `name`
and `zone`. Geometry is checked with shapely (valid, non-empty) before anything is stored.

A caller bound to regions (`Principal.regions`) lists only the zones of his regions and the
depots in those zones (a depot without a zone, or in a zone not stored, is in no region and
is not listed to him). His uploads are refused whole (403) when one feature would create or
replace a zone of another region (its new region or the stored one), or a depot that is not
in a zone of his regions (its new zone or the stored one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from shapely.errors import GEOSException
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.http.auth import require
from api.http.deps import SessionDep
from api.http.pages import PageParams, page_params, paginate
from api.principals import ANY_OFFICE, OFFICE, Principal, check_region
from api.storage.models import DepotRow, ZoneRow
from api.storage.store import new_depot_row
from api.storage.types import Ident, Text
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


def _check_zone_regions(
    session: Session, principal: Principal, zones: list[tuple[Zone, str]]
) -> None:
    """403 unless a region-bound caller may store every zone: its new region and, for a zone
    already stored, its present one are his."""
    if principal.regions is None:
        return
    ids = sorted({z.id for z, _ in zones})
    stored = session.scalars(select(ZoneRow.region).where(ZoneRow.id.in_(ids)))
    for region in sorted({r for _, r in zones} | set(stored)):
        check_region(principal, region)


def _check_depot_zones(session: Session, principal: Principal, zones: Iterable[str | None]) -> None:
    """403 unless every zone is a stored zone of a region-bound caller's regions."""
    if principal.regions is None:
        return
    wanted = set(zones)
    named = sorted(z for z in wanted if z is not None)
    query = select(ZoneRow.id, ZoneRow.region).where(ZoneRow.id.in_(named))
    regions = {zone_id: region for zone_id, region in session.execute(query)}
    for zone in sorted(wanted, key=lambda z: z or ""):
        if zone is None or zone not in regions:
            what = "a depot without a zone" if zone is None else f"zone {zone!r} (not stored)"
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"{principal.subject!r} works on region(s) "
                f"{', '.join(sorted(principal.regions))} only: {what} is in none of them",
            )
        check_region(principal, regions[zone])


@router.put("/zones", response_model=UploadResult, summary="Upload zones (GeoJSON polygons)")
def upload_zones(
    body: ZoneCollection,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    session: SessionDep,
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
    _check_zone_regions(session, principal, zones)
    for zone, region in zones:
        row = session.get(ZoneRow, zone.id) or ZoneRow(id=zone.id)
        row.name, row.region = zone.name, region
        row.geometry = zone.to_geojson()["geometry"]
        session.add(row)
    session.commit()
    return UploadResult(stored=len(zones), ids=[z.id for z, _ in zones])


def _feature_page(features: list[dict[str, Any]], total: int, page: PageParams) -> dict[str, Any]:
    """One page of a GeoJSON FeatureCollection: the paging figures ride as foreign members
    (RFC 7946, 6.1), so a GIS tool still reads the page as plain GeoJSON."""
    return {
        "type": "FeatureCollection",
        "features": features,
        "total": total,
        "limit": page.limit,
        "offset": page.offset,
    }


@router.get(
    "/zones",
    summary="Zones as a GeoJSON FeatureCollection, one page",
    description="By id; `total`, `limit` and `offset` beside `features` (foreign members).",
)
def list_zones(
    *,
    region: str | None = Query(None, max_length=32),
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
    page: PageParams = Depends(page_params),
) -> dict[str, Any]:
    """By id; a region-bound caller sees his regions' zones only."""
    query = select(ZoneRow).order_by(ZoneRow.id)
    if region is not None:
        query = query.where(ZoneRow.region == region)
    if principal.regions is not None:
        query = query.where(ZoneRow.region.in_(sorted(principal.regions)))
    rows, total = paginate(session, query, page)
    features = [
        {
            "type": "Feature",
            "geometry": z.geometry,
            "properties": {"id": z.id, "name": z.name, "region": z.region},
        }
        for z in rows
    ]
    return _feature_page(features, total, page)


@router.put(
    "/depots",
    response_model=UploadResult,
    summary="Upload warehouses and service points (GeoJSON points)",
)
def upload_depots(
    body: DepotCollection,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    session: SessionDep,
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
    if principal.regions is not None:
        ids = sorted({d.id for d in depots})
        stored = session.scalars(select(DepotRow.zone).where(DepotRow.id.in_(ids)))
        _check_depot_zones(session, principal, [*(d.zone for d in depots), *stored])
    for depot in depots:
        row = session.get(DepotRow, depot.id)
        fresh = new_depot_row(depot)
        if row is None:
            session.add(fresh)
        else:
            row.kind, row.zone, row.record = fresh.kind, fresh.zone, fresh.record
    session.commit()
    return UploadResult(stored=len(depots), ids=[d.id for d in depots])


@router.get(
    "/depots",
    summary="Warehouses and service points as GeoJSON points, one page",
    description="By id; `total`, `limit` and `offset` beside `features` (foreign members).",
)
def list_depots(
    *,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
    page: PageParams = Depends(page_params),
) -> dict[str, Any]:
    """By id; a region-bound caller sees the depots in his regions' zones only."""
    query = select(DepotRow).order_by(DepotRow.id)
    if principal.regions is not None:
        own = select(ZoneRow.id).where(ZoneRow.region.in_(sorted(principal.regions)))
        query = query.where(DepotRow.zone.in_(own))
    rows, total = paginate(session, query, page)
    features = []
    for row in rows:
        r = row.record
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": {"id": row.id, "kind": row.kind, "name": r["name"], "zone": row.zone},
            }
        )
    return _feature_page(features, total, page)
