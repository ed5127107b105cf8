"""The service's settings for what its pages and links show people: the map's tile layer and
the address the service is reached at from outside. A base class of `api.settings.Settings`
(its fields are `Settings`' own: `FIELDROUTE_MAP_TILE_URL`, `FIELDROUTE_PUBLIC_URL`, ...),
kept apart so the settings module stays readable.

* `map_tile_*`: the board's and the season page's tiles (none by default: no request leaves
  for a tile server unless one is configured), and their coordinate system.
* `public_url`: the service's address as customers' phones reach it, e.g.
  `https://dispatch.example.com`. A tracking link in a customer's SMS must be a whole address;
  without this setting the notice carries the path only (`/track/<token>`) and the SMS
  gateway has to put the host in front.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings


class WebConfig(BaseSettings):
    """The page and link fields of `api.settings.Settings` (see the module docstring)."""

    map_tile_url: str = Field(
        default="",
        max_length=500,
        description="tile URL template, e.g. https://tiles.example/{z}/{x}/{y}.png (empty: none)",
    )
    map_tile_attribution: str = Field(default="", max_length=500)
    map_tile_coords: Literal["wgs84", "gcj02"] = Field(
        default="wgs84",
        description="the tiles' coordinate system: gcj02 for AMap or Tencent tiles; the page "
        "shifts what it draws, the API stays in WGS-84",
    )
    public_url: str = Field(
        default="",
        max_length=200,
        description="the service's address from outside (https://host[:port][/prefix]), put "
        "in front of the tracking links customers get; empty: links are paths",
    )

    @field_validator("public_url")
    @classmethod
    def _whole_address(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) address (https://dispatch.example.com)")
        if parts.query or parts.fragment:
            raise ValueError("give the address without a query or fragment")
        return value

    def public_link(self, path: str) -> str:
        """`path` (starting with /) as people outside reach it: under `public_url` if set."""
        return self.public_url + path
