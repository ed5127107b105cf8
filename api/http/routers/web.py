"""The service's web pages: sign-in, the dispatcher board, the planner's season page, the
call centre's booking page and the managers' crew quality page.

The pages are plain HTML files and ES modules under `api/http/web/` (no build step: what is in the
repository is what the browser runs). They talk to the same JSON API as every other client,
with the bearer token the sign-in page obtained, kept in the tab's `sessionStorage`: never in
a URL, a cookie or the server's logs. Leaflet is vendored under `api/http/web/static/vendor/` with
its licence; nothing is loaded from a CDN.

Each page is answered with a Content-Security-Policy that allows scripts from this service
only, so an injected `<script>` in a job's text cannot run; map tiles may come from the
configured tile server (`FIELDROUTE_MAP_TILE_URL`), nothing else from outside.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from api.context import AppContext
from api.http.deps import CtxDep

WEB = Path(__file__).resolve().parent.parent / "web"
PAGES = WEB / "pages"
STATIC = WEB / "static"

router = APIRouter(tags=["web pages"])


class UiConfig(BaseModel):
    """What the pages need to know that is not a secret: the map's tile layer."""

    tile_url: str
    tile_attribution: str
    tile_coords: str


def content_security_policy(tile_url: str) -> str:
    """Scripts and styles from this service only; images also from the tile server."""
    images = ["'self'", "data:", "blob:"]
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "a"))
        if parts.scheme in ("http", "https") and parts.netloc:
            host = parts.netloc
            if "{s}" in tile_url:  # Leaflet's sub-domains ({s}.tile.example)
                host = "*." + host.split(".", 1)[1] if "." in host else host
            images.append(f"{parts.scheme}://{host}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # Leaflet positions map panes with inline style attributes
            "style-src 'self' 'unsafe-inline'",
            f"img-src {' '.join(images)}",
            # the season report opens from a blob: the API answered with the bearer token
            "frame-src 'self' blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


def _page(name: str, ctx: AppContext) -> FileResponse:
    return FileResponse(
        PAGES / name,
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": content_security_policy(ctx.settings.map_tile_url),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    """The board is the home page; it sends a visitor without a token to sign in."""
    return RedirectResponse("/board", status_code=303)


@router.get("/sign-in", include_in_schema=False)
def sign_in_page(ctx: CtxDep) -> FileResponse:
    return _page("sign-in.html", ctx)


@router.get("/board", include_in_schema=False)
def board_page(ctx: CtxDep) -> FileResponse:
    return _page("board.html", ctx)


@router.get("/season", include_in_schema=False)
def season_page(ctx: CtxDep) -> FileResponse:
    return _page("season.html", ctx)


@router.get("/booking", include_in_schema=False)
def booking_page(ctx: CtxDep) -> FileResponse:
    """The call centre's page: quote a new order's slots, book one (`POST /quotes`,
    `POST /bookings`)."""
    return _page("booking.html", ctx)


@router.get("/quality", include_in_schema=False)
def quality_page(ctx: CtxDep) -> FileResponse:
    """The service managers' crew quality page: scorecards per crew and own vs temporary
    crews, with a crew's weekly trend (`GET /scorecards`, `GET /crews/{id}/scorecard`)."""
    return _page("quality.html", ctx)


@router.get("/worklist", include_in_schema=False)
def worklist_page(ctx: CtxDep) -> FileResponse:
    """The dispatchers' worklist: open complaints with their 4-hour countdown and the
    follow-up calls due (`GET /complaints`, `GET /follow-ups/due`); managers read it."""
    return _page("worklist.html", ctx)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> RedirectResponse:
    """Browsers ask for /favicon.ico whatever the page says; the icon is an SVG."""
    return RedirectResponse("/static/favicon.svg", status_code=308)


@router.get("/ui/config", response_model=UiConfig, summary="Settings the web pages need")
def ui_config(ctx: CtxDep) -> UiConfig:
    """Public on purpose (the sign-in page reads it before anyone is signed in); it holds no
    secret, only the map's tile layer."""
    s = ctx.settings
    return UiConfig(
        tile_url=s.map_tile_url,
        tile_attribution=s.map_tile_attribution,
        tile_coords=s.map_tile_coords,
    )


def install_web(app: FastAPI) -> None:
    """The pages and their static files (`/static/...`: scripts, styles, vendored Leaflet)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
