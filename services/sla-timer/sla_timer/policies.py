"""SLA policies: which targets a ticket is held to. Pure: no I/O.

A policy is a matrix of rows keyed by ticket kind and severity (a row without a severity covers
every severity of its kind; an exact row wins). A row gives targets in minutes for first
response, on-site arrival (only when a visit is needed), resolution and an optional progress
report. Then, in this order:

1. no row, or a row without a response target: the policy's ``default_response`` (DOMAIN: a
   response is never later than 24 h);
2. a complaint's response target is the policy's ``complaint_response`` when it has one;
3. a channel override (phone and walk-in 15 min, email and fax 12 h) is a promise of its own:
   the ticket is held to the stricter of the override and the matrix;
4. the observation period after resolution and the warning thresholds are the policy's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

TIMER_KINDS = ("response", "on_site", "resolution", "progress")
DEFAULT_THRESHOLDS = (0.75, 0.9)


@dataclass(frozen=True)
class Row:
    kind: str
    severity: int | None
    response: int | None = None
    on_site: int | None = None
    resolution: int | None = None
    progress: int | None = None

    def target(self, timer_kind: str) -> int | None:
        return getattr(self, timer_kind)


@dataclass(frozen=True)
class Policy:
    key: str
    name: str
    rows: Sequence[Row]
    channel_overrides: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    complaint_response: int | None = None
    default_response: int | None = 1440
    observation: int | None = None
    warning_thresholds: Sequence[float] = DEFAULT_THRESHOLDS


@dataclass(frozen=True)
class Targets:
    """Minutes per timer kind (None: no such commitment) and how each was chosen."""

    minutes: Mapping[str, int | None]
    reasons: Mapping[str, str]
    observation: int | None
    thresholds: tuple[float, ...]

    def get(self, timer_kind: str) -> int | None:
        return self.minutes.get(timer_kind)


def find_row(policy: Policy, kind: str, severity: int) -> Row | None:
    exact = wildcard = None
    for row in policy.rows:
        if row.kind != kind:
            continue
        if row.severity == severity:
            exact = row
        elif row.severity is None:
            wildcard = row
    return exact or wildcard


def targets(policy: Policy, *, kind: str, severity: int, channel: str) -> Targets:
    """The targets of a ticket of this kind, severity and channel under ``policy``."""
    row = find_row(policy, kind, severity)
    label = (
        f"row {row.kind} / {'any severity' if row.severity is None else f'severity {severity}'}"
        if row
        else f"no row for {kind} / severity {severity}"
    )
    minutes: dict[str, int | None] = {}
    reasons: dict[str, str] = {}
    for timer_kind in TIMER_KINDS:
        value = row.target(timer_kind) if row else None
        minutes[timer_kind] = value
        if value is not None:
            reasons[timer_kind] = f"{label} of policy {policy.key!r}"
    if minutes["response"] is None and policy.default_response is not None:
        minutes["response"] = policy.default_response
        reasons["response"] = f"policy {policy.key!r} default response target ({label})"
    if kind == "complaint" and policy.complaint_response is not None:
        minutes["response"] = policy.complaint_response
        reasons["response"] = f"complaint response target of policy {policy.key!r}"
    for timer_kind, value in (policy.channel_overrides.get(channel) or {}).items():
        if timer_kind not in minutes or value is None:
            continue
        current = minutes[timer_kind]
        if current is None or value < current:
            minutes[timer_kind] = value
            reasons[timer_kind] = (
                f"{channel} channel target of policy {policy.key!r}, stricter than the matrix"
                if current is not None
                else f"{channel} channel target of policy {policy.key!r}"
            )
    return Targets(
        minutes=minutes,
        reasons=reasons,
        observation=policy.observation,
        thresholds=tuple(sorted(set(policy.warning_thresholds))),
    )


def validate(policy: Policy) -> None:
    """Raises ValueError naming the first problem: duplicate rows, bad thresholds or targets."""
    seen = set()
    for row in policy.rows:
        key = (row.kind, row.severity)
        if key in seen:
            sev = "any severity" if row.severity is None else f"severity {row.severity}"
            raise ValueError(f"two rows for {row.kind} / {sev}")
        seen.add(key)
    for threshold in policy.warning_thresholds:
        if not 0 < threshold < 1:
            raise ValueError(f"warning threshold {threshold} is not between 0 and 1")
    for channel, overrides in policy.channel_overrides.items():
        unknown = set(overrides) - set(TIMER_KINDS)
        if unknown:
            raise ValueError(f"channel {channel}: unknown timer kinds {sorted(unknown)}")
