"""Which engineer takes a ticket, and why (issue 5, DESIGN §5). Pure: no I/O.

The rules, in order:

1. **Branches.** The ticket's tier picks the branches: tier 1 the local branches, tier 2
   headquarters. A branch covers a region when one of its region codes equals it, or is a
   prefix pattern ending in ``*`` that it starts with (``CN-SH*``, ``31*``); ``*`` alone covers
   every region and is the only way to cover a ticket that has no region.
2. **Candidates** are the engineers of those branches at that tier. Each is excluded, with the
   reason recorded, when: the ticket asked not to have them (they declined it or handed it
   back); they are inactive; they lack a required skill; they are off duty; they are only on
   call and the contract is not 7x24; they are at capacity.
3. **Skills.** The ticket's product and category are required skills (case and spacing do not
   matter). A skill that no active engineer of the pool lists is waived and the waiver is
   recorded, so an unknown product never leaves a ticket waiting forever.
4. **Shift before on-call.** Engineers on shift are preferred. Only when none of them can take
   it does a 7x24 ticket go to the branch's on-call engineers.
5. **Language.** If an eligible engineer speaks the customer's language, only those are kept.
6. **Ranking:** least loaded first (open assignments / capacity, then open assignments), then
   the longest idle (the oldest last assignment; never assigned counts as idlest), then the
   engineer id, so equals take turns (round robin) and every decision is reproducible.
7. **Reopened** tickets go back to the previous engineer when they are active, on duty (or on
   call for a 7x24 contract) and under capacity, whatever the other rules say.

No eligible engineer: the decision is ``queued`` and names the branch whose queue the ticket
waits in (the first covering branch). The decision keeps every candidate with its exclusion
or its score, so it can be stored and shown as the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dispatch.duty import Duty

Outcome = Literal["assigned", "queued"]
Rule = Literal["previous_engineer", "on_shift", "on_call"]


@dataclass(frozen=True)
class TicketFacts:
    ticket_id: UUID
    tier: int
    region: str | None
    coverage: str  # "24x7" or "business_hours"
    product: str | None = None
    category: str | None = None
    language: str | None = None
    severity: int = 3


@dataclass(frozen=True)
class Branch:
    id: UUID
    name: str
    tier: int
    regions: tuple[str, ...]
    active: bool = True


@dataclass(frozen=True)
class Candidate:
    engineer_id: UUID
    name: str
    branch_id: UUID
    tier: int
    skills: frozenset[str]
    languages: frozenset[str]
    active: bool
    max_open: int
    open_count: int
    last_assigned_at: datetime | None
    duty: Duty

    @property
    def load(self) -> float:
        return self.open_count / self.max_open if self.max_open > 0 else 1.0


@dataclass
class Consideration:
    """One candidate in a decision: excluded (with a code and words) or ranked (with a score)."""

    engineer_id: UUID
    name: str
    branch_id: UUID
    duty: str
    open_count: int
    max_open: int
    excluded: str | None = None
    detail: str | None = None
    rank: int | None = None
    load: float | None = None
    last_assigned_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "engineer_id": str(self.engineer_id),
            "name": self.name,
            "branch_id": str(self.branch_id),
            "duty": self.duty,
            "open": self.open_count,
            "capacity": self.max_open,
        }
        if self.excluded is not None:
            out["excluded"] = self.excluded
            out["detail"] = self.detail
        else:
            out["rank"] = self.rank
            out["load"] = round(self.load or 0.0, 4)
            out["last_assigned_at"] = _iso(self.last_assigned_at)
        return out


@dataclass
class Decision:
    outcome: Outcome
    tier: int
    rule: Rule | None
    ranked: list[UUID]
    considered: list[Consideration]
    branches: list[Branch]
    queue_branch: Branch | None
    required_skills: list[str] = field(default_factory=list)
    waived_skills: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def winner(self) -> UUID | None:
        return self.ranked[0] if self.ranked else None

    def summary(self) -> str:
        if self.outcome == "queued":
            where = self.queue_branch.name if self.queue_branch else "no branch covers the region"
            return f"no engineer can take it now; waiting in the queue of {where}"
        chosen = next(c for c in self.considered if c.engineer_id == self.winner)
        if self.rule == "previous_engineer":
            return f"back to {chosen.name}, who had it before"
        eligible = sum(1 for c in self.considered if c.excluded is None)
        how = "on call" if self.rule == "on_call" else "on shift"
        return (
            f"{chosen.name} ({how}): least loaded then longest idle of {eligible} eligible, "
            f"{chosen.open_count}/{chosen.max_open} open"
        )

    def as_reason(self, *, winner: UUID | None = None, candidates: bool = True) -> dict[str, Any]:
        """The decision as shown: JSON-able, candidates in rank order first (stored compactly,
        see :meth:`stored_reason`)."""
        chosen = winner if winner is not None else self.winner
        out = {
            "summary": self.summary(),
            "outcome": self.outcome,
            "tier": self.tier,
            "rule": self.rule,
            "winner": str(chosen) if chosen else None,
            "branches": [{"id": str(b.id), "name": b.name} for b in self.branches],
            "queue_branch_id": str(self.queue_branch.id) if self.queue_branch else None,
            "required_skills": self.required_skills,
            "waived_skills": self.waived_skills,
            "notes": list(self.notes),
        }
        if candidates:
            out["candidates"] = [c.as_json() for c in self._ordered()]
        return out

    def stored_reason(self, *, winner: UUID | None = None) -> dict[str, Any]:
        """:meth:`as_reason` as stored: the same facts, a compact row per candidate (a decision
        considers every engineer of the covering branches, and is written for every ticket).
        :func:`expand_reason` gives back exactly ``as_reason``'s form, which the API shows."""
        full = self.as_reason(winner=winner, candidates=False)
        branch_index = {b["id"]: i for i, b in enumerate(full["branches"])}
        details: dict[str, int] = {}
        rows: list[list[Any]] = []
        for c in self._ordered():
            branch = str(c.branch_id)
            row: list[Any] = [
                str(c.engineer_id),
                c.name,
                branch_index.get(branch, branch),
                c.duty,
                c.open_count,
                c.max_open,
            ]
            if c.excluded is not None:
                detail = None
                if c.detail is not None:
                    detail = details.setdefault(c.detail, len(details))
                row += [c.excluded, detail]
            else:
                row += [None, c.rank, _iso(c.last_assigned_at)]
                if round(c.load or 0.0, 4) != _load(c.open_count, c.max_open):
                    row.append(round(c.load or 0.0, 4))
            rows.append(row)
        full["v"] = STORED_VERSION
        full["details"] = list(details)
        full["c"] = rows
        return full

    def _ordered(self) -> list[Consideration]:
        return sorted(
            self.considered,
            key=lambda c: (c.rank is None, c.rank or 0, c.name, str(c.engineer_id)),
        )


# The "v" of a reason stored by Decision.stored_reason (reasons without it are stored whole).
STORED_VERSION = 2


def _load(open_count: int, max_open: int) -> float:
    return round(open_count / max_open if max_open > 0 else 1.0, 4)


def expand_reason(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored reason in the form :meth:`Decision.as_reason` gives (what the API shows)."""
    if not stored or stored.get("v") != STORED_VERSION:
        return stored
    out = {k: v for k, v in stored.items() if k not in ("v", "details", "c")}
    branches, details = stored["branches"], stored["details"]
    candidates = []
    for row in stored["c"]:
        engineer_id, name, branch, duty, open_count, max_open, excluded = row[:7]
        c: dict[str, Any] = {
            "engineer_id": engineer_id,
            "name": name,
            "branch_id": branches[branch]["id"] if isinstance(branch, int) else branch,
            "duty": duty,
            "open": open_count,
            "capacity": max_open,
        }
        if excluded is not None:
            c["excluded"] = excluded
            c["detail"] = details[row[7]] if row[7] is not None else None
        else:
            c["rank"] = row[7]
            c["load"] = row[9] if len(row) > 9 else _load(open_count, max_open)
            c["last_assigned_at"] = row[8]
        candidates.append(c)
    out["candidates"] = candidates
    return out


def normalise(tag: str) -> str:
    """Skill tags compare without case or spacing: ``Core Network`` == ``core-network``."""
    return "-".join(tag.lower().replace("_", " ").replace("-", " ").split())


def covers(patterns: Iterable[str], region: str | None) -> bool:
    for pattern in patterns:
        if pattern == "*":
            return True
        if region is None:
            continue
        if pattern.endswith("*"):
            if region.upper().startswith(pattern[:-1].upper()):
                return True
        elif pattern.upper() == region.upper():
            return True
    return False


def covering_branches(branches: Iterable[Branch], *, tier: int, region: str | None) -> list[Branch]:
    """Active branches of ``tier`` that cover ``region``, most specific first (an exact code
    before a prefix pattern before ``*``), then by name."""
    found = [b for b in branches if b.active and b.tier == tier and covers(b.regions, region)]
    return sorted(found, key=lambda b: (_specificity(b.regions, region), b.name, str(b.id)))


def _specificity(patterns: Sequence[str], region: str | None) -> int:
    if region is not None and any(p.upper() == region.upper() for p in patterns):
        return 0
    if region is not None and any(
        p.endswith("*") and p != "*" and region.upper().startswith(p[:-1].upper()) for p in patterns
    ):
        return 1
    return 2


def required_skills(ticket: TicketFacts) -> list[str]:
    wanted = [normalise(s) for s in (ticket.product, ticket.category) if s]
    return list(dict.fromkeys(w for w in wanted if w))


def choose_engineer(
    ticket: TicketFacts,
    branches: Sequence[Branch],
    candidates: Sequence[Candidate],
    *,
    previous_engineer: Candidate | None = None,
    exclude: Mapping[UUID, str] | None = None,
) -> Decision:
    """The decision for ``ticket``: ``branches`` are the covering branches (see
    :func:`covering_branches`), ``candidates`` their engineers at the ticket's tier with their
    duty at the moment of deciding, ``exclude`` the engineers the ticket must not go to (engineer
    → why), ``previous_engineer`` who had it before a reopen."""
    exclude = dict(exclude or {})
    queue_branch = branches[0] if branches else None
    pool = [c for c in candidates if c.active]
    known = set().union(*(c.skills for c in pool)) if pool else set()
    required = required_skills(ticket)
    needed = [s for s in required if s in known]
    waived = [s for s in required if s not in known]
    decision = Decision(
        outcome="queued",
        tier=ticket.tier,
        rule=None,
        ranked=[],
        considered=[],
        branches=list(branches),
        queue_branch=queue_branch,
        required_skills=required,
        waived_skills=waived,
    )
    if waived:
        decision.notes.append(
            "waived: no active engineer of these branches lists " + ", ".join(waived)
        )
    if not branches:
        decision.notes.append(
            f"no active tier-{ticket.tier} branch covers region {ticket.region or '(none)'}"
        )

    if previous_engineer is not None:
        why_not = _previous_unavailable(ticket, previous_engineer, exclude)
        if why_not is None:
            decision.outcome, decision.rule = "assigned", "previous_engineer"
            decision.ranked = [previous_engineer.engineer_id]
            decision.considered = [
                _ranked(previous_engineer, 1),
                *(
                    _excluded(c, "not_needed", "the previous engineer takes it back")
                    for c in candidates
                    if c.engineer_id != previous_engineer.engineer_id
                ),
            ]
            return decision
        decision.notes.append(f"previous engineer {previous_engineer.name} {why_not}")

    on_shift: list[Candidate] = []
    on_call: list[Candidate] = []
    for c in candidates:
        reason = _exclusion(ticket, c, needed, exclude)
        if reason is not None:
            decision.considered.append(_excluded(c, *reason))
        elif c.duty.on_shift:
            on_shift.append(c)
        else:
            on_call.append(c)

    if on_shift:
        eligible, decision.rule = on_shift, "on_shift"
        decision.considered.extend(
            _excluded(c, "on_call_not_needed", f"{len(on_shift)} on shift can take it")
            for c in on_call
        )
    elif on_call and ticket.coverage == "24x7":
        eligible, decision.rule = on_call, "on_call"
    else:
        eligible = []
        decision.considered.extend(
            _excluded(c, "on_call_not_covered", "on-call covers 7x24 contracts only")
            for c in on_call
        )

    if ticket.language and eligible:
        speakers = [c for c in eligible if _speaks(c, ticket.language)]
        if speakers and len(speakers) < len(eligible):
            decision.considered.extend(
                _excluded(c, "language", f"does not speak {ticket.language}; a speaker can")
                for c in eligible
                if c not in speakers
            )
            eligible = speakers

    ranked = sorted(eligible, key=rank_key)
    decision.considered.extend(_ranked(c, i) for i, c in enumerate(ranked, start=1))
    decision.ranked = [c.engineer_id for c in ranked]
    if ranked:
        decision.outcome = "assigned"
    else:
        decision.rule = None
    return decision


def rank_key(c: Candidate) -> tuple[float, int, bool, float, str]:
    idle = c.last_assigned_at
    return (
        round(c.load, 9),
        c.open_count,
        idle is not None,
        idle.timestamp() if idle is not None else 0.0,
        str(c.engineer_id),
    )


def _exclusion(
    ticket: TicketFacts, c: Candidate, needed: list[str], exclude: Mapping[UUID, str]
) -> tuple[str, str] | None:
    if c.engineer_id in exclude:
        return "excluded", exclude[c.engineer_id]
    if not c.active:
        return "inactive", "marked inactive"
    if c.tier != ticket.tier:
        return "tier", f"tier {c.tier}, the ticket needs tier {ticket.tier}"
    missing = [s for s in needed if s not in c.skills]
    if missing:
        return "skills", "lacks " + ", ".join(missing)
    if not c.duty.available:
        return "off_duty", c.duty.why
    if c.open_count >= c.max_open:
        return "capacity", f"{c.open_count} of {c.max_open} open"
    return None


def _previous_unavailable(
    ticket: TicketFacts, c: Candidate, exclude: Mapping[UUID, str]
) -> str | None:
    if c.engineer_id in exclude:
        return f"is excluded: {exclude[c.engineer_id]}"
    if not c.active:
        return "is inactive"
    if not c.duty.on_shift and not (c.duty.on_call and ticket.coverage == "24x7"):
        return f"is not on duty ({c.duty.why})"
    if c.open_count >= c.max_open:
        return f"is at capacity ({c.open_count} of {c.max_open})"
    return None


def _speaks(c: Candidate, language: str) -> bool:
    """Languages match on their primary subtag: an ``en`` speaker serves ``en-GB``."""
    primary = language.lower().split("-")[0]
    return any(lang.lower().split("-")[0] == primary for lang in c.languages)


def _duty_word(c: Candidate) -> str:
    if c.duty.on_shift:
        return "on_shift"
    return "on_call" if c.duty.on_call else "off"


def _excluded(c: Candidate, code: str, detail: str) -> Consideration:
    return Consideration(
        engineer_id=c.engineer_id,
        name=c.name,
        branch_id=c.branch_id,
        duty=_duty_word(c),
        open_count=c.open_count,
        max_open=c.max_open,
        excluded=code,
        detail=detail,
    )


def _ranked(c: Candidate, rank: int) -> Consideration:
    return Consideration(
        engineer_id=c.engineer_id,
        name=c.name,
        branch_id=c.branch_id,
        duty=_duty_word(c),
        open_count=c.open_count,
        max_open=c.max_open,
        rank=rank,
        load=c.load,
        last_assigned_at=c.last_assigned_at,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
