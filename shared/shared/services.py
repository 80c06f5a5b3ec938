"""The five services: their package, schema, port and folder (DESIGN §1 to §3)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    package: str
    schema: str
    port: int

    @property
    def folder(self) -> Path:
        return REPO_ROOT / "services" / self.name

    @property
    def role(self) -> str:
        return f"aftercare_{self.schema}"


SERVICES: tuple[ServiceInfo, ...] = (
    ServiceInfo("intake", "intake", "intake", 8101),
    ServiceInfo("dispatch", "dispatch", "dispatch", 8102),
    ServiceInfo("sla-timer", "sla_timer", "sla", 8103),
    ServiceInfo("notify", "notify", "notify", 8104),
    ServiceInfo("kb", "kb", "kb", 8105),
)
BY_NAME = {s.name: s for s in SERVICES}


def lookup(name: str) -> ServiceInfo:
    """A service by its name, package or schema."""
    for s in SERVICES:
        if name in (s.name, s.package, s.schema):
            return s
    raise KeyError(f"unknown service {name!r}; known: {', '.join(BY_NAME)}")
