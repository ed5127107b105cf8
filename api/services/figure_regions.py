"""Which regions' figures a caller gets (`GET /metrics/service`, `GET /scorecards`).

Figures (service metrics, crew scorecards) may be asked for one region (`?region=`); a
region-bound dispatcher (`Principal.regions`) may ask only for his own (403 otherwise) and,
naming none, gets his regions' figures. Shared by the routers that answer figures, which
never import each other.
"""

from __future__ import annotations

from api.principals import Principal, check_region
from dispatch.errors import InputError
from dispatch.promises import default_policies


def figure_regions(principal: Principal, region: str | None) -> frozenset[str] | None:
    """The regions whose figures `principal` gets (None: every region): the one asked for,
    which must be a known region (422 naming `region`) and one of his (403); else a bound
    caller's regions."""
    if region is None:
        return principal.regions
    known = default_policies()
    if region not in known:
        raise InputError("query", "region", f"{region!r} is not one of: {', '.join(sorted(known))}")
    check_region(principal, region)
    return frozenset({region})
