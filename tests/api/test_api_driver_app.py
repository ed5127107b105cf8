"""The driver app's files as the service answers them (no browser: tests/browser drives one):
the page and its policy, the manifest, and the service worker with its scope and shell."""

from __future__ import annotations

import json
import re

import pytest

from api.http.routers.driver_app import SHELL, shell_version

pytestmark = pytest.mark.api


def test_page_manifest_and_worker(client) -> None:
    page = client.get("/driver")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy
    assert "img-src 'self' data: blob:" in policy  # photo previews are blob: URLs
    assert "<script>" not in page.text
    assert 'rel="manifest" href="/driver/manifest.webmanifest"' in page.text
    # every module is preloaded (no import waterfall on a slow connection)
    modules = {u for u in SHELL if u.endswith(".js")} - {"/static/js/driver.js"}
    assert modules == set(re.findall(r'rel="modulepreload" href="([^"]+)"', page.text))

    manifest = client.get("/driver/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    app = manifest.json()
    assert app["start_url"] == "/driver" and app["scope"] == "/driver"
    assert app["display"] == "standalone" and app["theme_color"]
    sizes = {i["sizes"] for i in app["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in app["icons"]:
        answer = client.get(icon["src"])
        assert answer.status_code == 200 and answer.headers["content-type"] == icon["type"]

    worker = client.get("/driver/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/driver"
    assert "__VERSION__" not in worker.text and shell_version() in worker.text
    listed = re.search(r"const SHELL = (\[.*?\]);", worker.text)
    assert listed is not None
    shell = json.loads(listed.group(1))
    assert shell == sorted(SHELL)


def test_every_shell_file_is_served_and_every_module_import_is_in_the_shell(client) -> None:
    """Offline the app has only what the worker cached: every module a shell module imports
    must itself be in the shell."""
    for url in SHELL:
        assert client.get(url).status_code == 200, url
    for url, path in SHELL.items():
        if not url.endswith(".js"):
            continue
        for name in re.findall(r'^import .*?"\./([\w-]+\.js)";', path.read_text(), re.M | re.S):
            assert f"/static/js/{name}" in SHELL, f"{url} imports {name}, not in the shell"
