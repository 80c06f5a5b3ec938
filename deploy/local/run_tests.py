"""`make test` after the bootstrap: lint, then each test suite in its own pytest process.

Each suite runs alone because SQLModel keeps one global metadata per process and two services'
tables must not meet there (STYLE rule 9). The run stops at the first failing step and ends
with one summary line, `summary: N passed, N failed, N skipped`. A suite that collects no test
(pytest exit code 5) is reported, not failed.

    .venv/bin/python deploy/local/run_tests.py [SUITE...]    default: lint and every suite
Standard library only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv" / "bin"
SUITES = [
    "deploy/tests",
    "shared/tests",
    "services/intake/tests",
    "services/dispatch/tests",
    "services/sla-timer/tests",
    "services/notify/tests",
    "services/kb/tests",
    "tests",
]
NO_TESTS_COLLECTED = 5


def counts(report: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from a pytest JUnit XML report; errors count as failed."""
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError):
        return 0, 0, 0
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    total = failed = skipped = 0
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return total - failed - skipped, failed, skipped


def main() -> int:
    results = Path(os.environ.get("AFTERCARE_VAR_DIR") or ROOT / "var") / "test-results"
    results.mkdir(parents=True, exist_ok=True)
    steps: list[tuple[str, list[str], Path | None]] = []
    if len(sys.argv) == 1:
        steps += [
            ("ruff check", [str(VENV / "ruff"), "check", "."], None),
            ("ruff format", [str(VENV / "ruff"), "format", "--check", "."], None),
        ]
    for suite in sys.argv[1:] or SUITES:
        report = results / (suite.replace("/", "_") + ".xml")
        steps.append((suite, [str(VENV / "pytest"), suite, f"--junitxml={report}"], report))

    rows, totals, failed_step = [], [0, 0, 0], None
    for name, argv, report in steps:
        if failed_step:
            rows.append((name, "not run", ""))
            continue
        shown = [Path(argv[0]).name, *(a for a in argv[1:] if not a.startswith("--junitxml"))]
        print(f"\n==> {' '.join(shown)}", flush=True)
        if report:
            report.unlink(missing_ok=True)
        started = time.monotonic()
        code = subprocess.run(argv, cwd=ROOT).returncode
        took = f"{time.monotonic() - started:.1f}s"
        if report is None:
            rows.append((name, "passed" if code == 0 else "FAILED", took))
        elif code == NO_TESTS_COLLECTED:
            rows.append((name, "no tests", took))
        else:
            passed, failed, skipped = counts(report)
            totals = [totals[0] + passed, totals[1] + failed, totals[2] + skipped]
            outcome = "passed" if code == 0 else f"FAILED (pytest exit {code})"
            rows.append(
                (name, f"{outcome}: {passed} passed, {failed} failed, {skipped} skipped", took)
            )
        if code not in (0, NO_TESTS_COLLECTED):
            failed_step = name

    print("\n==> results")
    width = max(len(name) for name, _, _ in rows)
    for name, outcome, took in rows:
        print(f"  {name:<{width}}  {outcome:<48} {took}")
    if failed_step:
        print(f"stopped at the first failure: {failed_step}")
    print(f"summary: {totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 1 if failed_step else 0


if __name__ == "__main__":
    sys.exit(main())
