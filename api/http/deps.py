"""Typed route dependencies: the app's context and the request's database session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.context import AppContext


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
