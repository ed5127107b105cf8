"""The service's travel-time settings: which provider times each region's plans, and where road
matrices are cached. A base class of `api.settings.Settings` (its fields are `Settings`' own:
`FIELDROUTE_TRAVEL`, `FIELDROUTE_TRAVEL_REGIONS`, `FIELDROUTE_TRAVEL_CACHE`), kept apart so
the settings module stays readable.

* `travel`: the spec the command line's `--travel` takes (`dispatch.day_problem.
  travel_from_spec`): `haversine` (the default), `osm:FILE` (an OpenStreetMap extract, .osm or
  .osm.pbf) or `osrm:URL` (an OSRM server).
* `travel_regions`: a JSON object of region -> spec, over `travel` for those regions
  (`{"urban": "osm:/srv/osm/shanghai.osm.pbf"}`).
* `travel_cache`: the folder road matrices are kept in between plans; each region has its own
  sub-folder (`dispatch.translate.travel_cache_dir`). The same variable as the command line's.

Every spec is checked when the settings are read, so a service with a missing OSM file, a
.osm.pbf without the `osmium` reader or a misspelt region refuses to start, naming the
variable, instead of failing its first plan. A plan takes the provider when it is triggered
(`travel_for`): its problem snapshot carries it, and the worker, re-plans, overrides and
explanations read it from there.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from dispatch.day_problem import TRAVEL_SPECS, TravelSettings, travel_from_spec
from dispatch.errors import InputError
from dispatch.promises import default_policies

#: the cache's folder in `data_dir` when `travel_cache` is not set
CACHE_FOLDER = "travel-cache"


class TravelConfig(BaseSettings):
    """The travel fields of `api.settings.Settings` (see the module docstring)."""

    travel: str = Field(
        default="haversine",
        max_length=2000,
        description=f"travel times of every region's plans: {TRAVEL_SPECS} (as `dispatch "
        "plan --travel`); a relative FILE is taken from the working directory at start-up",
    )
    travel_regions: str = Field(
        default="",
        max_length=20_000,
        description='per region, over `travel`: a JSON object, e.g. {"urban": '
        '"osm:/srv/osm/shanghai.osm.pbf", "rural": "haversine"}',
    )
    travel_cache: Path | None = Field(
        default=None,
        description="folder road matrices are kept in between plans, a sub-folder per region "
        "(the command line reads the same variable); unset: `travel-cache` in data_dir, or "
        "none without data_dir",
    )

    @field_validator("travel")
    @classmethod
    def _travel_spec(cls, value: str) -> str:
        return checked_spec(value)

    @field_validator("travel_regions")
    @classmethod
    def _region_specs(cls, value: str) -> str:
        if not value.strip():
            return ""
        try:
            raw = json.loads(value)
        except ValueError:
            raise ValueError('not JSON; expected an object like {"urban": "osm:FILE"}') from None
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise ValueError('expected a JSON object of region -> spec, like {"urban": "osm:FILE"}')
        known = default_policies()
        out = {}
        for region, spec in raw.items():
            if region not in known:
                raise ValueError(f"region {region!r} is not one of: {', '.join(sorted(known))}")
            try:
                out[region] = checked_spec(spec)
            except ValueError as exc:
                raise ValueError(f"region {region!r}: {exc}") from None
        return json.dumps(out, sort_keys=True)

    def region_travel(self) -> dict[str, str]:
        """The spec each region's plans are timed with (`travel_regions` over `travel`)."""
        specs = dict.fromkeys(default_policies(), self.travel)
        specs.update(json.loads(self.travel_regions) if self.travel_regions else {})
        return specs

    def travel_for(self, region: str, base: TravelSettings | None = None) -> TravelSettings:
        """The travel settings a plan of `region` is made with: its provider from these
        settings, speeds and rush hours from `base` (the defaults when None)."""
        spec = self.region_travel().get(region, self.travel)
        name = "FIELDROUTE_TRAVEL_REGIONS" if region in self._own_regions() else "FIELDROUTE_TRAVEL"
        return travel_from_spec(spec, base, record="service settings", field=name)

    def _own_regions(self) -> set[str]:
        return set(json.loads(self.travel_regions)) if self.travel_regions else set()

    def travel_cache_dir(self) -> Path | None:
        """Where road matrices are kept: `travel_cache`, else `travel-cache` in `data_dir`
        (`Settings`' field), else nowhere (None: computed for every plan); absolute."""
        if self.travel_cache is not None:
            return self.travel_cache.expanduser().resolve()
        data_dir = getattr(self, "data_dir", None)  # declared by Settings, not here
        return None if data_dir is None else Path(data_dir).resolve() / CACHE_FOLDER

    def travel_env(self) -> dict[str, str]:
        """These settings as a worker process's environment: specs already normalised
        (absolute paths, whatever the worker's directory), the cache folder resolved."""
        env = {"FIELDROUTE_TRAVEL": self.travel, "FIELDROUTE_TRAVEL_REGIONS": self.travel_regions}
        cache = self.travel_cache_dir()
        if cache is not None:
            env["FIELDROUTE_TRAVEL_CACHE"] = str(cache)
        return env


def checked_spec(spec: str) -> str:
    """The spec, normalised (an OSM file's absolute path), or `ValueError` saying what is
    wrong: a spec `travel_from_spec` refuses, or a .osm.pbf without the `osmium` reader."""
    try:
        travel = travel_from_spec(spec)
    except InputError as exc:
        raise ValueError(exc.message) from None
    if travel.provider == "osm":
        path = Path(travel.osm_file).resolve()
        if path.name.lower().endswith(".pbf") and importlib.util.find_spec("osmium") is None:
            raise ValueError(
                f"{path.name} is an .osm.pbf extract: it needs the optional 'osmium' package "
                "(pip install 'fieldroute[osm]'), or convert it to .osm XML"
            )
        return f"osm:{path}"
    if travel.provider == "osrm":
        return f"osrm:{travel.osrm_url}"
    return travel.provider
