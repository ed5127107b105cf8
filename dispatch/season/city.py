"""The city a season runs in: zones, depots, own crews, customer sites and temporary crews.

A `SeasonCity` is built once per run: from the demo city (`fixtures.shanghai_season`) or from
the user's own territory (`dispatch.season.own_city`: zones, depots and crews files, or the
service's own records), where customer sites are drawn uniformly inside the zone polygons.
Temporary crews are made from one template crew, placed at each zone's service point in
proportion to zone weights (by default the zones' customer sites), so "40 temporary crews"
means the same thing in every run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import time

import numpy as np

from dispatch.errors import InputError
from dispatch.models import Crew, CrewKind, Depot, DepotKind, Job, LunchBreak
from dispatch.zones import Zone

#: two-hour appointment slots offered to customers (minutes after midnight)
SLOTS: tuple[tuple[int, int], ...] = tuple((h * 60, (h + 2) * 60) for h in (9, 11, 13, 15, 17))


@dataclass(frozen=True, eq=False)
class CustomerSites:
    """Where customers live, with the appointment slot each site books (minutes of day)."""

    lon: np.ndarray
    lat: np.ndarray
    zone: np.ndarray  # zone id per site (object array; None outside every zone)
    slot_start: np.ndarray
    slot_end: np.ndarray
    rural: np.ndarray  # bool: the rural promise policy applies

    def __len__(self) -> int:
        return len(self.lon)


#: the default temporary crew: an outsourced delivery-and-installation team (送装一体, two
#: AC installers with a small truck), the usual way Chinese appliance retailers add peak
#: capacity: installers alone would wait on deliveries the own trucks cannot make at 2.8 x
#: the normal volume. Long days at the peak; it loads at the warehouse nearest its zone.
TEMP_TEMPLATE = Crew(
    id="TMP",
    kind=CrewKind.COMBINED,
    people=2,
    skills=frozenset({"ac_install", "work_at_height", "heavy_lifting"}),
    start_depot="-",
    end_depot="-",
    shift_start=time(8, 0),
    shift_end=time(19, 0),
    capacity_volume_l=9000.0,
    capacity_weight_kg=1500.0,
    lunch=LunchBreak(time(11, 30), time(13, 30), 45),
    max_jobs=8,
    cost_per_hour=130.0,
    cost_per_km=3.0,
)


#: the skills a specialist temporary team adds to the template's (`dispatch.season.shifts`):
#: what water heaters, cabinet units and TV mounts need beyond an AC installer's skills
SPECIALIST_SKILLS = frozenset({"electrical", "plumbing", "tv_mount"})


@dataclass(frozen=True, eq=False)
class SeasonCity:
    name: str
    zones: tuple[Zone, ...]
    depots: tuple[Depot, ...]
    own_crews: tuple[Crew, ...]
    sites: CustomerSites
    temp_template: Crew = TEMP_TEMPLATE

    def __post_init__(self) -> None:
        if len(self.sites) == 0:
            raise InputError(f"city {self.name!r}", "sites", "no customer sites")
        if not self.zones:
            raise InputError(f"city {self.name!r}", "zones", "at least one zone is needed")

    def zone_weights(self, override: dict[str, float] | None = None) -> dict[str, float]:
        """Weights for placing temporary crews: `override`, else customer sites per zone."""
        ids = [z.id for z in self.zones]
        if override:
            unknown = sorted(set(override) - set(ids))
            if unknown:
                raise InputError(
                    "season settings", f"crews.temp_zone_weights.{unknown[0]}", "unknown zone"
                )
            return {z: float(override.get(z, 0.0)) for z in ids}
        counts = {z: 0.0 for z in ids}
        for z in self.sites.zone:
            if z in counts:
                counts[z] += 1
        return counts

    def depot_for_zone(self, zone_id: str, carries_goods: bool = False) -> Depot:
        """Where a crew of `zone_id` starts: the warehouse nearest the zone's service point
        when it carries goods, else the service point; else the zone's first depot, else the
        first service point."""
        points = [d for d in self.depots if d.kind is DepotKind.SERVICE_POINT]
        houses = [d for d in self.depots if d.kind is DepotKind.WAREHOUSE]
        home = next((d for d in points if d.zone == zone_id), None)
        if carries_goods and houses:
            anchor = home or next((d for d in self.depots if d.zone == zone_id), None)
            if anchor is None:
                return houses[0]
            return min(houses, key=lambda w: _km2(w, anchor))
        for d in points:
            if d.zone == zone_id:
                return d
        for d in self.depots:
            if d.zone == zone_id:
                return d
        return (points or list(self.depots))[0]

    def temporary_crews(self, count: int, weights: dict[str, float]) -> list[Crew]:
        """`count` temporary crews `TMP001..` placed over zones by `weights` (largest remainder).

        Every fifth crew also holds `electrical` (cabinet air conditioners need it).
        """
        if count <= 0:
            return []
        per_zone = allocate(count, [weights[z.id] for z in self.zones])
        crews: list[Crew] = []
        for zone, n in zip(self.zones, per_zone, strict=True):
            depot = self.depot_for_zone(zone.id, self.temp_template.carries_goods).id
            for _ in range(n):
                k = len(crews) + 1
                crews.append(
                    dataclasses.replace(
                        self.temp_template,
                        id=f"TMP{k:03d}",
                        skills=self._temp_skills(k),
                        start_depot=depot,
                        end_depot=depot,
                        home_zone=zone.id,
                    )
                )
        return crews

    def _temp_skills(self, k: int) -> frozenset[str]:
        extra = {"electrical"} if k % 5 == 1 else set()
        return frozenset(self.temp_template.skills | extra)

    def temp_can_do(self, job: Job, specialists: bool = False) -> bool:
        """Could some temporary crew do this job? The `electrical` variant (crew 1) holds
        every skill the others do, so it answers for all of them; with `specialists` hired
        (`crews.temp_specialist_share` > 0), a three-person team with `SPECIALIST_SKILLS`
        answers."""
        widest = dataclasses.replace(self.temp_template, skills=self._temp_skills(1))
        if specialists:
            widest = dataclasses.replace(
                widest, people=max(3, widest.people), skills=widest.skills | SPECIALIST_SKILLS
            )
        return widest.can_do(job)


def _km2(a: Depot, b: Depot) -> float:
    """Squared planar distance proxy (degrees, latitude-corrected): enough to rank depots."""
    dx = (a.location.lon - b.location.lon) * np.cos(np.radians(b.location.lat))
    return float(dx * dx + (a.location.lat - b.location.lat) ** 2)


def allocate(total: int, weights: list[float]) -> list[int]:
    """Split `total` by `weights` (largest remainder, ties to the earlier index)."""
    w = np.asarray(weights, dtype=float)
    if w.sum() <= 0:
        w = np.ones(len(w))
    exact = total * w / w.sum()
    base = np.floor(exact).astype(int)
    order = np.lexsort((np.arange(len(w)), -(exact - base)))
    for k in order[: total - int(base.sum())]:
        base[k] += 1
    return [int(b) for b in base]
