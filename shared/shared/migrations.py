"""What every service's Alembic ``env.py`` runs (STYLE rule 8).

Migrations run as the service's own role, see only the service's schema, keep the version table
in that schema, and drop empty autogenerate revisions.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.settings import ServiceSettings


def run(settings: ServiceSettings, target_metadata: MetaData) -> None:
    """Entry point for ``migrations/env.py``."""
    schema = settings.db_schema

    def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        if type_ == "schema":
            return name == schema
        return True

    def drop_empty(ctx: Any, revision: Any, directives: list[Any]) -> None:
        if getattr(ctx.config, "cmd_opts", None) and getattr(
            ctx.config.cmd_opts, "autogenerate", False
        ):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []

    options = {
        "target_metadata": target_metadata,
        "include_schemas": True,
        "include_name": include_name,
        "version_table_schema": schema,
        "process_revision_directives": drop_empty,
        "compare_type": True,
        "compare_server_default": False,
    }

    if context.is_offline_mode():
        context.configure(url=settings.async_database_url(), literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        # The schema must not be on the search_path here: Alembic reports the default schema
        # as None and would then fail to match it against the tables' explicit schema.
        engine = create_async_engine(
            settings.async_database_url(),
            poolclass=pool.NullPool,
            connect_args={"server_settings": {"search_path": "public"}},
        )
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())
