"""What a simulation request becomes: season settings, and the city it runs in.

Shared by `POST /simulations` (which validates, so a bad setting is a 422 naming it before
anything is queued) and `api.background.simulation_worker` (which rebuilds the same settings and
city from the stored row). The request's `days`, `seed` and `scale` are top-level settings of
`dispatch.season.settings`; they are merged into the scenario overrides, and
`settings_from_dict` (the same rules as `dispatch simulate --scenario`) judges the result.

Cities:

* ``shanghai``: the demo city (`fixtures.shanghai_season.season_city(scale)`), its own fleet
  scaled with `scale` like the demand;
* ``own``: the service's zones, depots and own (not temporary) active crews, snapshotted from
  the tables when the simulation is asked for; customer sites are drawn in the zone polygons
  (`dispatch.season.own_city`). The fleet is the service's as it is: `scale` scales demand
  only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.storage.models import CrewRow, DepotRow
from api.storage.store import crew_of, depot_of, load_zones
from dispatch.errors import InputError
from dispatch.files.records import crew_from_dict, crew_to_dict, depot_from_dict, depot_to_dict
from dispatch.season.city import SeasonCity
from dispatch.season.levers import OPTIONS, LeverOption
from dispatch.season.settings import SeasonSettings, settings_from_dict
from dispatch.zones import Zone

FIXTURES = ("shanghai", "own")
#: customer sites drawn per zone of the service's own territory (as `city_from_files`)
OWN_SITES_PER_ZONE = 2000
OWN_CITY_NAME = "service territory"
REC = "season settings"
#: the record a request's own fields (not settings) are named under in a 422
REQUEST = "simulation"
#: the lever options a request may name (`dispatch.season.levers.OPTIONS`), in their order
LEVER_OPTION_NAMES = tuple(o.name for o in OPTIONS)
#: the largest seed (replication k runs seed + k; numpy takes any non-negative integer)
MAX_SEED = 2**62


def scenario(raw: dict[str, Any], **top: Any) -> tuple[SeasonSettings, dict[str, Any]]:
    """The settings of a request and the overrides they come from (`raw` plus the request's
    top-level `days`, `seed`, `scale` where given). Raises `InputError` naming the setting.

    A top-level value and the same key inside `raw` must agree; anything settings_from_dict
    cannot digest (a list where an object belongs, say) is an `InputError` too, never a 500.
    """
    if not isinstance(raw, dict):
        raise InputError(REC, "settings", "must be a JSON object of settings")
    overrides = dict(raw)
    for key, value in top.items():
        if value is None:
            continue
        if key in overrides and overrides[key] != value:
            raise InputError(
                REC, f"settings.{key}", f"{overrides[key]!r} contradicts {key}={value!r}"
            )
        overrides[key] = value
    try:
        settings = settings_from_dict(overrides)
    except InputError:
        raise
    except (TypeError, ValueError, OverflowError, AttributeError, KeyError) as exc:
        detail = str(exc).strip()[:200] or type(exc).__name__
        raise InputError(REC, "settings", f"not valid settings: {detail}") from None
    if not 0 <= settings.seed <= MAX_SEED:
        raise InputError(REC, "seed", f"must be in 0..{MAX_SEED}, got {settings.seed}")
    return settings, overrides


def lever_search(recommend: bool, levers: bool, names: list[str] | None) -> list[str] | None:
    """The lever options a request searches, by name (`dispatch.season.levers.OPTIONS`'
    order; all of them when it names none), or None without `levers`. Raises `InputError`
    naming the request's field: `levers` without `recommend` (the lever search is a capacity
    recommendation, as `dispatch simulate --levers` goes with `--recommend`), `lever_options`
    without `levers`, or an option name that is not one of `LEVER_OPTION_NAMES`."""
    if levers and not recommend:
        raise InputError(
            REQUEST,
            "levers",
            "goes with recommend: true (the lever search is part of the capacity recommendation)",
        )
    if names is not None and not levers:
        raise InputError(REQUEST, "lever_options", "goes with levers: true")
    if not levers:
        return None
    for k, name in enumerate(names or []):
        if name not in LEVER_OPTION_NAMES:
            raise InputError(
                REQUEST,
                f"lever_options[{k}]",
                f"{name!r} is not one of: {'; '.join(LEVER_OPTION_NAMES)}",
            )
    return [n for n in LEVER_OPTION_NAMES if not names or n in names]


def lever_options_of(names: list[str] | None) -> tuple[LeverOption, ...]:
    """The options `lever_search` answered (stored in a simulation's params) as the lever
    search takes them; an unknown name (a row older than a renamed option) is refused."""
    if not names:
        return OPTIONS
    lever_search(True, True, names)
    return tuple(o for o in OPTIONS if o.name in names)


def check_zone_weights(settings: SeasonSettings, zone_ids: list[str]) -> None:
    """`crews.temp_zone_weights` may name only zones of the city (422 before queueing)."""
    unknown = sorted(set(settings.crews.temp_zone_weights) - set(zone_ids))
    if unknown:
        raise InputError(REC, f"crews.temp_zone_weights.{unknown[0]}", "unknown zone")


def fixture_zone_ids(fixture: str, snapshot: dict[str, Any] | None) -> list[str]:
    """Zone ids of a request's city (the demo city's, or the snapshot's)."""
    if fixture == "shanghai":
        from fixtures.shanghai_city import city

        return [z.id for z in city().zones]
    return [str(f["properties"]["zone_id"]) for f in (snapshot or {}).get("zones", [])]


def own_city_snapshot(session: Session) -> dict[str, Any]:
    """The service's zones (GeoJSON features), depots and own active crews (records).

    Each record is rebuilt through the domain validation first, so a stored record that no
    longer validates is refused here (422) rather than in the worker.
    """
    zones = load_zones(session)
    depots = [depot_of(r) for r in session.scalars(select(DepotRow).order_by(DepotRow.id))]
    crews = [
        crew_of(r)
        for r in session.scalars(
            select(CrewRow)
            .where(CrewRow.active.is_(True), CrewRow.temporary.is_(False))
            .order_by(CrewRow.id)
        )
    ]
    return {
        "zones": [z.to_geojson() for z in zones],
        "depots": [depot_to_dict(d) for d in depots],
        "crews": [crew_to_dict(c) for c in crews],
    }


def city_from_snapshot(
    snapshot: dict[str, Any], seed: int, sites_per_zone: int = OWN_SITES_PER_ZONE
) -> SeasonCity:
    """The own territory's `SeasonCity` from a snapshot (`own_city_snapshot`)."""
    from dispatch.season.own_city import city_from_records

    zones = [Zone.from_geojson(f) for f in snapshot.get("zones", [])]
    depots = [
        depot_from_dict(d, f"snapshot depot {k}") for k, d in enumerate(snapshot.get("depots", []))
    ]
    crews = [
        crew_from_dict(c, f"snapshot crew {k}") for k, c in enumerate(snapshot.get("crews", []))
    ]
    name = f"{OWN_CITY_NAME} ({len(zones)} zones, {len(crews)} own crews)"
    return city_from_records(name, zones, depots, crews, sites_per_zone, seed)


def season_city_of(
    fixture: str, settings: SeasonSettings, snapshot: dict[str, Any] | None
) -> SeasonCity:
    """The city a simulation runs in (module doc)."""
    if fixture == "shanghai":
        from fixtures.shanghai_season import season_city

        return season_city(settings.scale)
    if fixture == "own":
        if snapshot is None:
            raise InputError("simulation", "city", "the simulation has no city snapshot")
        return city_from_snapshot(snapshot, settings.seed)
    raise InputError("simulation", "fixture", f"{fixture!r} is not one of: {', '.join(FIXTURES)}")
