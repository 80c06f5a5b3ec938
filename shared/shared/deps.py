"""``Annotated`` dependency aliases every service's routes use (STYLE rule 5)."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Actor, authenticate


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # The route commits; closing here only rolls back what was left uncommitted (STYLE rule 1).
    async with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]
ActorDep = Annotated[Actor, Depends(authenticate)]
