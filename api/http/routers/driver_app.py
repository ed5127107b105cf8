"""The driver app (issue 18): an installable web app for crews on phones at `/driver`.

Three answers besides the static files under `/static/`:

- `GET /driver`: the page (plain HTML, ES modules, no build step), with a strict
  Content-Security-Policy (`POLICY`: everything from this service only, images also `blob:`
  and `data:` for the photo previews, the worker and the manifest from here; no map tiles);
- `GET /driver/manifest.webmanifest`: the web app manifest (name, icons, theme colour,
  `display: standalone`, `start_url` and `scope` `/driver`), so a phone offers to install it;
- `GET /driver/sw.js`: the service worker. A worker controls only the pages under the path it is
  served from, so it is served here, with `Service-Worker-Allowed: /driver` for the scope
  `/driver` (which holds `/driver` itself, not only `/driver/...`). It caches the app shell
  (`SHELL`: the page, scripts, styles, icons, manifest) so the app opens with no network; the
  list and a version (a hash of those files) are written into the worker's text here, so a
  changed file changes the worker and the phone fetches the new shell on its next open.

Nothing here needs a token: the page holds no data. The app keeps its token, the route and
the queue of reports in the phone's IndexedDB (docs/web.md, "Driver app").
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi import APIRouter, Response

router = APIRouter(tags=["web pages"])

WEB = Path(__file__).resolve().parent.parent / "web"
PAGES = WEB / "pages"
STATIC = WEB / "static"

#: the app shell: what the service worker caches on install (URL -> file)
SHELL: dict[str, Path] = {
    "/driver": PAGES / "driver.html",
    "/driver/manifest.webmanifest": PAGES / "driver.webmanifest",
    "/static/app.css": STATIC / "app.css",
    "/static/driver.css": STATIC / "driver.css",
    "/static/driver-icon.svg": STATIC / "driver-icon.svg",
    "/static/driver-icon-192.png": STATIC / "driver-icon-192.png",
    "/static/driver-icon-512.png": STATIC / "driver-icon-512.png",
    **{
        f"/static/js/{name}.js": STATIC / "js" / f"{name}.js"
        for name in (
            "i18n",
            "api",
            "dom",
            "gcj02",
            "driver",
            "driver-strings",
            "driver-store",
            "driver-queue",
            "driver-route",
            "driver-stop",
            "driver-forms",
            "driver-nav",
            "driver-signature",
            "driver-photo",
            "driver-position",
        )
    },
}
WORKER = PAGES / "driver-sw.js"
SCOPE = "/driver"


def shell_version() -> str:
    """A hash of every shell file and the worker's own text: any change makes a new worker."""
    digest = hashlib.sha256()
    for url, path in sorted(SHELL.items()):
        digest.update(url.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(WORKER.read_bytes())
    return digest.hexdigest()[:16]


#: scripts, styles, workers, the manifest and calls from this service only (no inline script,
#: no `eval`: text in a job cannot run as code); photo previews are `blob:` images
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@router.get("/driver", include_in_schema=False)
def driver_page() -> Response:
    return Response(
        SHELL["/driver"].read_bytes(), media_type="text/html; charset=utf-8", headers=HEADERS
    )


@router.get("/driver/manifest.webmanifest", include_in_schema=False)
def driver_manifest() -> Response:
    return Response(
        SHELL["/driver/manifest.webmanifest"].read_bytes(),
        media_type="application/manifest+json",
        headers=HEADERS,
    )


@router.get("/driver/sw.js", include_in_schema=False)
def driver_worker() -> Response:
    text = (
        WORKER.read_text(encoding="utf-8")
        .replace("__VERSION__", shell_version())
        .replace('["__SHELL__"]', json.dumps(sorted(SHELL)))
    )
    return Response(
        text,
        media_type="text/javascript; charset=utf-8",
        headers={**HEADERS, "Service-Worker-Allowed": SCOPE},
    )
