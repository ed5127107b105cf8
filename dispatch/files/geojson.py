"""A plan as a GeoJSON FeatureCollection (RFC 7946) for QGIS, geojson.io or any web map.

Features, each tagged with a `feature` property so a map can style them by type:

* `route`: one LineString per crew, depot -> stops -> depot: along the roads when the plan
  was timed with a road provider ("osm", "osrm": `dispatch.road_lines`), else straight
  between the stops; its `geometry_source` says which ("roads" or "straight", and
  `geometry_note` why straight lines where roads were wanted);
* `stop`: one Point per planned job, with its sequence, times and promise slack;
* `unassigned`: one Point per job left out, with the reason;
* `depot`: one Point per warehouse or service point;
* `zone`: the zone polygons.

Coordinates are [lon, lat] in WGS84. Customer names, phones and addresses are never written:
a map is shared more widely than the plan itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dispatch.files.fields import format_datetime
from dispatch.models import GeoPoint
from dispatch.plan import Plan
from dispatch.privacy import coarse
from dispatch.road_lines import route_lines


def route_paths(
    plan: Plan, exact_locations: bool = True, roads: bool = True
) -> tuple[dict[str, list[list[float]]], dict[str, str]]:
    """Each route's line ([lon, lat] vertices, by crew id) and the properties that say what
    it is: `geometry_source` "roads" or "straight", and `geometry_note` when roads were
    wanted but cannot be had (`dispatch.road_lines`).

    With `exact_locations=False` the corners at customers are coarsened, and road lines run
    between those coarse points: a line never leads closer to a door than its corner.
    `roads=False` draws straight lines whatever the provider.
    """
    problem = plan.problem
    spot = _xy if exact_locations else _coarse_xy
    jobs = {j.id: j for j in problem.jobs}
    depots = {d.id: d for d in problem.depots}
    crews = {c.id: c for c in problem.crews}
    straight = {
        route.crew_id: [
            _xy(depots[crews[route.crew_id].start_depot].location),
            *(spot(jobs[s.job_id].location) for s in route.stops),
            _xy(depots[crews[route.crew_id].end_depot].location),
        ]
        for route in plan.routes
    }
    if not roads:
        return straight, {"geometry_source": "straight"}
    found = route_lines(problem.travel, [[(x, y) for x, y in p] for p in straight.values()])
    if found.lines is None:
        note = {"geometry_note": found.note} if found.note else {}
        return straight, {"geometry_source": "straight", **note}
    return dict(zip(straight, found.lines, strict=True)), {"geometry_source": "roads"}


def plan_to_geojson(plan: Plan, exact_locations: bool = True, roads: bool = True) -> dict[str, Any]:
    """The plan's routes, stops, unassigned jobs, depots and zones as a FeatureCollection.

    `exact_locations=False` (for the roles without personal data): customers' points, and
    the routes' corners at them, coarsened (`dispatch.privacy.coarse`); depots stay exact.
    Routes follow the roads with a road provider unless `roads=False` (`route_paths`).
    """
    problem = plan.problem
    spot = _xy if exact_locations else _coarse_xy
    jobs = {j.id: j for j in problem.jobs}
    crews = {c.id: c for c in problem.crews}
    paths, source = route_paths(plan, exact_locations, roads)
    features: list[dict[str, Any]] = []
    for route in plan.routes:
        crew = crews[route.crew_id]
        features.append(
            _feature(
                {"type": "LineString", "coordinates": paths[crew.id]},
                feature="route",
                crew_id=crew.id,
                crew_kind=crew.kind.value,
                **source,
                n_stops=len(route.stops),
                distance_km=round(route.distance_m / 1000, 3),
                depart=format_datetime(route.depart),
                **{"return": format_datetime(route.return_at)},
            )
        )
        for sequence, stop in enumerate(route.stops, start=1):
            job = jobs[stop.job_id]
            features.append(
                _point(
                    job.location,
                    spot,
                    feature="stop",
                    job_id=job.id,
                    kind=job.kind.value,
                    crew_id=crew.id,
                    sequence=sequence,
                    eta=format_datetime(stop.arrival),
                    start=format_datetime(stop.start),
                    end=format_datetime(stop.end),
                    deadline=format_datetime(stop.deadline),
                    slack_minutes=stop.slack_minutes,
                    late=stop.slack_minutes < 0,
                    priority=job.priority.value,
                )
            )
    for item in plan.unassigned:
        job = jobs[item.job_id]
        features.append(
            _point(
                job.location,
                spot,
                feature="unassigned",
                job_id=job.id,
                kind=job.kind.value,
                priority=job.priority.value,
                reason=item.reason.value,
                detail=item.detail,
            )
        )
    for depot in problem.depots:
        features.append(
            _point(
                depot.location,
                _xy,
                feature="depot",
                depot_id=depot.id,
                kind=depot.kind.value,
                name=depot.name,
                zone=depot.zone,
            )
        )
    # through JSON text so tuples from shapely become lists, as the rest of the collection
    features += [json.loads(json.dumps(z.to_geojson())) for z in problem.zones]
    return {"type": "FeatureCollection", "features": features}


def _xy(point: GeoPoint) -> list[float]:
    return [point.lon, point.lat]


def _feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _coarse_xy(point: GeoPoint) -> list[float]:
    return [coarse(point.lon), coarse(point.lat)]


def _point(
    point: GeoPoint, xy: Callable[[GeoPoint], list[float]], **properties: Any
) -> dict[str, Any]:
    return _feature({"type": "Point", "coordinates": xy(point)}, **properties)
