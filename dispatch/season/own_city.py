"""A season city of the user's own territory: from files, or from records already loaded.

* `city_from_files`: zones (GeoJSON), depots and crews (CSV or JSON) read from files (the
  command line's ``--zones-file``, ``--depots-file``, ``--crews-file``);
* `city_from_records`: the same without the files: the caller (the service's
  `POST /simulations` with fixture ``own``) hands over `Zone`, `Depot` and `Crew` objects.

Either way customer sites are drawn uniformly inside each zone polygon (`draw_sites`),
`sites_per_zone` per zone, each with one of the two-hour slots and the urban promise policy,
so the same zones and seed give the same sites by either route. The drawing is bounded: a
zone so thin that rejection sampling finds no point inside it within `MAX_DRAWS` rounds is
refused with an `InputError` naming the zone, never an endless loop.

The city itself (`SeasonCity`, `CustomerSites`, the slots) is defined in
`dispatch.season.city`; this module only builds one from the user's data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import shapely

from dispatch.errors import InputError
from dispatch.files.importers import read_crews, read_depots
from dispatch.models import Crew, Depot
from dispatch.season.city import SLOTS, CustomerSites, SeasonCity
from dispatch.zones import Zone

#: rejection-sampling rounds per zone before a zone is declared too thin to hold customers
MAX_DRAWS = 50


def draw_sites(zones: Sequence[Zone], sites_per_zone: int, seed: int) -> CustomerSites:
    """`sites_per_zone` points drawn uniformly in each zone's polygon, each with a slot.

    The generator is seeded with ``[seed, 7]``, so the same zones and seed give the same sites
    from `city_from_files` and `city_from_records`.
    """
    if sites_per_zone < 1:
        raise InputError("season city", "sites_per_zone", f"must be >= 1, got {sites_per_zone}")
    rng = np.random.default_rng([seed, 7])
    lon: list[float] = []
    lat: list[float] = []
    zone_of: list[str] = []
    slot: list[int] = []
    for z in zones:
        minx, miny, maxx, maxy = z.polygon.bounds
        shapely.prepare(z.polygon)
        got = 0
        for _ in range(MAX_DRAWS):
            if got >= sites_per_zone:
                break
            xs = rng.uniform(minx, maxx, 4 * sites_per_zone)
            ys = rng.uniform(miny, maxy, 4 * sites_per_zone)
            inside = shapely.contains_xy(z.polygon, xs, ys)
            take = np.flatnonzero(inside)[: sites_per_zone - got]
            lon += list(xs[take])
            lat += list(ys[take])
            zone_of += [z.id] * len(take)
            slot += list(rng.integers(len(SLOTS), size=len(take)))
            got += len(take)
        if got < sites_per_zone:
            raise InputError(
                f"zone {z.id!r}", "polygon", "too thin to place customers in (no area inside it)"
            )
    slots = np.array([SLOTS[k] for k in slot], dtype=int).reshape(-1, 2)
    return CustomerSites(
        lon=np.round(np.array(lon, dtype=float), 6),
        lat=np.round(np.array(lat, dtype=float), 6),
        zone=np.array(zone_of, dtype=object),
        slot_start=slots[:, 0],
        slot_end=slots[:, 1],
        rural=np.zeros(len(lon), dtype=bool),
    )


def city_from_files(
    zones_file: str | Path,
    crews_file: str | Path,
    depots_file: str | Path,
    sites_per_zone: int = 2000,
    seed: int = 0,
) -> SeasonCity:
    """The user's own territory: zones (GeoJSON), crews and depots (CSV or JSON).

    Customer sites are drawn uniformly inside each zone polygon, `sites_per_zone` per zone,
    with a two-hour slot each; all sites use the urban promise policy.
    """
    raw = json.loads(Path(zones_file).read_text(encoding="utf-8"))
    features = raw.get("features", []) if isinstance(raw, dict) else []
    if not features:
        raise InputError(str(zones_file), "features", "no zone features in the GeoJSON file")
    zones = tuple(Zone.from_geojson(f) for f in features)
    depots = tuple(read_depots(depots_file))
    crews = tuple(read_crews(crews_file))
    sites = draw_sites(zones, sites_per_zone, seed)
    return SeasonCity(Path(zones_file).stem, zones, depots, crews, sites)


def city_from_records(
    name: str,
    zones: Sequence[Zone],
    depots: Sequence[Depot],
    crews: Sequence[Crew],
    sites_per_zone: int = 2000,
    seed: int = 0,
) -> SeasonCity:
    """A `SeasonCity` of these zones, depots and own crews, with customer sites drawn in the
    zones (module doc). Refuses a territory without zones, depots or crews, naming which."""
    record = f"city {name!r}"
    if not zones:
        raise InputError(record, "zones", "no zones: import the service's zones first")
    if not depots:
        raise InputError(record, "depots", "no depots: import the service's depots first")
    if not crews:
        raise InputError(record, "crews", "no own crews: import the service's crews first")
    sites = draw_sites(zones, sites_per_zone, seed)
    return SeasonCity(name, tuple(zones), tuple(depots), tuple(crews), sites)


__all__ = ["MAX_DRAWS", "city_from_files", "city_from_records", "draw_sites"]
