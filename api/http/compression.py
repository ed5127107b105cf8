"""Answers compressed with gzip for clients that accept it (`Accept-Encoding: gzip`).

Starlette's `GZipMiddleware` does the work: answers of `GZIP_MIN_BYTES` (1 KiB) or more are
compressed (level 6: most of the gain for a fraction of level 9's time), smaller ones and
answers without a body (a 304, a 204) go as they are; every compressible answer gets
`Vary: Accept-Encoding`. Images and archives are left alone.

One thing is added: a compressed answer's *strong* `ETag` becomes weak (`W/"..."`), as nginx
does, since the gzip bytes are another representation than the plain ones a strong
validator would promise. The routers compare `If-None-Match` weakly
(`api.http.http_cache.etag_matches`; the board's ETag is weak already), so a phone sending
back either form gets its 304.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: smaller answers are not worth compressing
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 6


class Compression:
    """ASGI middleware: gzip for clients that accept it, strong ETags weakened when used."""

    def __init__(self, app: ASGIApp) -> None:
        self.gzip = GZipMiddleware(app, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.gzip(scope, receive, send)
            return

        async def weaken_etag(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                etag = headers.get("etag")
                if headers.get("content-encoding") == "gzip" and etag and etag.startswith('"'):
                    headers["ETag"] = f"W/{etag}"
            await send(message)

        await self.gzip(scope, receive, weaken_etag)
