"""What a running service holds: settings, the database engine and session factory, and the
background workers. One `AppContext` per app, built by `api.http.app.create_app`, kept on
`app.state.ctx`; nothing is built at import time. The background runners and senders get it
passed in, so it knows no HTTP (the request-side access is `api.http.deps`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    #: background services started in the app's lifespan (plan runner, webhook sender...)
    workers: dict[str, Any] = field(default_factory=dict)
    #: wake-up calls for workers when new work is committed (name -> callable)
    wakeups: dict[str, Any] = field(default_factory=dict)

    def wake(self, name: str) -> None:
        fn = self.wakeups.get(name)
        if fn is not None:
            fn()
