"""What a running service holds: settings, the database engine and session factory, and the
background workers. One `AppContext` per app, built by `api.app.create_app`, kept on
`app.state.ctx`; nothing is built at import time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
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


async def get_ctx(request: Request) -> AppContext:
    """The app's context (async: no I/O, so no thread-pool hop)."""
    return request.app.state.ctx


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request. Handlers commit explicitly; anything left is rolled back."""
    with request.app.state.ctx.sessions() as session:
        yield session


#: the app's context as a route parameter: `ctx: CtxDep`
CtxDep = Annotated[AppContext, Depends(get_ctx)]
#: the request's session as a route parameter: `session: SessionDep`
SessionDep = Annotated[Session, Depends(get_session)]
