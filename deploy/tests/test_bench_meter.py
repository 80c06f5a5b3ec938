"""The benchmarks' CPU meter (bench/ticket_flow.py, also used by bench/inbound.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from ticket_flow import CLK_TCK, CpuMeter


def test_a_backend_that_ends_in_the_window_counts_only_its_time_inside_it():
    # Before: the postmaster (pid 1) and a backend (pid 2) that has used 500 ticks so far.
    # After: the backend used 30 more ticks and ended; the postmaster reaped it, so its
    # reaped-children time grew by the backend's whole life, 530 ticks.
    before = (0.0, {1: ("postgres", 1_000), 2: ("postgres", 500), 3: ("intake", 40)}, 0)
    after = (1.0, {1: ("postgres", 1_000 + 530), 3: ("intake", 40 + 20)}, 50)

    cpu = CpuMeter.percent(before, after)

    assert cpu["postgres"] == round(100 * 30 / CLK_TCK, 1)
    assert cpu["intake"] == round(100 * 20 / CLK_TCK, 1)
