"""Sla timer's domain metrics (DESIGN §8)."""

from prometheus_client import Counter, Gauge, Histogram

FIRE_LAG = Histogram(
    "aftercare_sla_fire_lag_seconds",
    "Fire time minus due time of warnings, breaches, observation ends and schedule occurrences",
    ["what"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
FIRED = Counter(
    "aftercare_sla_fired_total",
    "Points fired by the scanner: warning, breach, elapsed, schedule; skipped warnings too",
    ["what"],
)
BREACHES = Counter(
    "aftercare_sla_breaches_total",
    "Deadlines that passed unmet, by timer kind and ticket severity",
    ["kind", "severity"],
)
ACTIVE_TIMERS = Gauge(
    "aftercare_sla_active_timers", "Running or paused timers, by timer kind", ["kind"]
)
SCAN_SECONDS = Histogram(
    "aftercare_sla_scan_seconds",
    "Time of one scanner transaction (lock a batch, write events, update timers)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
