"""Runs the benchmarks in bench/ (what `make bench` does): each prints its JSON to stdout and
is saved as bench/results/<name>-<UTC timestamp>.json.

    .venv/bin/python bench/run.py [--only NAME] [--list] [benchmark flags, e.g. --quick]

The words of AFTERCARE_BENCH_ARGS come first, the way to pass flags through make:
`make bench AFTERCARE_BENCH_ARGS="--only ticket_flow --quick"`. Flags run.py does not know go
to every benchmark it runs; when it runs several, each ignores (and names on stderr) the flags
it does not know, so `--quick` reaches all and `--step-seconds 5` only ticket_flow. `--only NAME`
also runs a bench/NAME.py that is not listed yet. Progress goes to stderr.
Exit status 1 when a benchmark failed to run (a missed target is a result, not a failure).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"

# Each module has main(argv: list[str]) -> dict, the JSON-able result.
BENCHMARKS = ("ticket_flow", "floor", "intake_lists", "sla", "inbound", "dispatch")


def dumps(value: object, indent: int = 0, width: int = 100) -> str:
    """JSON indented like json.dumps(indent=2), except that an object or list that fits on
    one line (within ``width``) stays on one line: a short figure reads as one."""
    flat = json.dumps(value)
    if not isinstance(value, dict | list) or not value or indent + len(flat) <= width:
        return flat
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        items = [
            f"{inner}{json.dumps(k)}: {dumps(v, indent + 2, width - len(json.dumps(k)) - 2)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [f"{inner}{dumps(v, indent + 2, width)}" for v in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"


def lenient_flags() -> None:
    """With several benchmarks, each ignores (and names) the flags meant for the others:
    argparse's parse_args becomes parse_known_args plus a note on stderr."""

    def parse_args(self, args=None, namespace=None):
        known, extra = self.parse_known_args(args, namespace)
        if extra:
            print(f"{self.prog}: ignoring {' '.join(extra)}", file=sys.stderr)
        return known

    argparse.ArgumentParser.parse_args = parse_args  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run bench/NAME.py only (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    argv = shlex.split(os.environ.get("AFTERCARE_BENCH_ARGS", "")) + sys.argv[1:]
    args, rest = parser.parse_known_args(argv)
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    if missing := [n for n in args.only or () if not (BENCH / f"{n}.py").is_file()]:
        parser.error(f"no benchmark {', '.join(missing)}; listed: {', '.join(BENCHMARKS)}")
    sys.path.insert(0, str(BENCH))
    RESULTS.mkdir(exist_ok=True)
    names = args.only or BENCHMARKS
    if len(names) > 1:
        lenient_flags()
    failed = []
    for name in names:
        try:
            result = importlib.import_module(name).main(rest)
        except SystemExit as exc:  # argparse: --help or a bad flag
            if exc.code:
                failed.append(name)
            continue
        except BaseException:
            traceback.print_exc()
            failed.append(name)
            continue
        text = dumps(result)
        print(text, flush=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS / f"{name}-{stamp}.json"
        path.write_text(text + "\n")
        print(f"saved {path.relative_to(BENCH.parent)}", file=sys.stderr)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
