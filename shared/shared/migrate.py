"""Runs every service's Alembic migrations: ``python -m shared.migrate [service ...]``."""

from __future__ import annotations

import argparse

from alembic import command
from alembic.config import Config

from shared.services import SERVICES, ServiceInfo, lookup


def alembic_config(service: ServiceInfo) -> Config:
    config = Config(str(service.folder / "alembic.ini"))
    config.set_main_option("script_location", str(service.folder / "migrations"))
    return config


def upgrade(services: list[ServiceInfo], revision: str = "head") -> None:
    for service in services:
        command.upgrade(alembic_config(service), revision)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.migrate")
    parser.add_argument("services", nargs="*", help="default: all five")
    parser.add_argument("--revision", default="head")
    args = parser.parse_args()
    chosen = [lookup(s) for s in args.services] if args.services else list(SERVICES)
    upgrade(chosen, args.revision)
    print("migrated " + ", ".join(s.name for s in chosen))


if __name__ == "__main__":
    main()
