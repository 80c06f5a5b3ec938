"""Merge the five services' OpenAPI documents into the one the gateway serves (DESIGN §2).

Each service's document comes from `create_app().openapi()` in a subprocess of the project's
Python (building the app connects to nothing), so one service's import-time state never meets
another's. Merging rules:

- paths: every path belongs to one service; /healthz, /readyz and /metrics are per-process and
  left out; an operation without tags is tagged with its service's name.
- components: a name whose body is the same in every service that defines it is kept once;
  a name whose bodies differ, or that refers to such a name, is renamed `<service>.<name>` in
  each service and that service's $refs are rewritten.

Standard library only. Usage:
    .venv/bin/python deploy/gateway/openapi_merge.py [--out FILE] [--python PY] [--only a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "intake": "intake",
    "dispatch": "dispatch",
    "sla-timer": "sla_timer",
    "notify": "notify",
    "kb": "kb",
}  # service name -> package
PER_PROCESS_PATHS = {"/healthz", "/readyz", "/metrics"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SNIPPET = (
    "import json; from {pkg}.main import create_app; print(json.dumps(create_app().openapi()))"
)


def load(service: str, python: str) -> dict:
    """Return one service's OpenAPI document, built in a fresh interpreter."""
    done = subprocess.run(
        [python, "-c", SNIPPET.format(pkg=SERVICES[service])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if done.returncode != 0:
        raise RuntimeError(
            done.stderr.strip().splitlines()[-1]
            if done.stderr.strip()
            else f"exit code {done.returncode}"
        )
    # The document is the last line: anything the app logs while building comes before it.
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _rewrite_refs(node: object, renames: dict[str, str]) -> object:
    if isinstance(node, dict):
        return {
            key: (
                renames.get(value, value)
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value, renames)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _conflicting(specs: dict[str, dict]) -> set[str]:
    """Component refs ("#/components/schemas/X") that must stay per service."""
    bodies: dict[str, list[object]] = {}
    for spec in specs.values():
        for section, items in spec.get("components", {}).items():
            for name, body in items.items():
                bodies.setdefault(f"#/components/{section}/{name}", []).append(body)
    conflicts = {ref for ref, seen in bodies.items() if any(b != seen[0] for b in seen)}
    # Identical text can still mean different things when it points at a conflicting name.
    while True:
        tainted = {
            ref
            for ref, seen in bodies.items()
            if ref not in conflicts and any(_refs(b) & conflicts for b in seen)
        }
        if not tainted:
            return conflicts
        conflicts |= tainted


def merge(specs: dict[str, dict]) -> dict:
    conflicts = _conflicting(specs)
    merged: dict = {
        "openapi": next((s["openapi"] for s in specs.values() if "openapi" in s), "3.1.0"),
        "info": {
            "title": "Aftercare API",
            "version": "1",
            "description": "All Aftercare services behind the gateway: " + ", ".join(specs) + ".",
        },
        "paths": {},
        "components": {},
    }
    tags: dict[str, dict] = {}  # declared tags first, then the ones operations use
    for service, spec in specs.items():
        renames = {}
        for section, items in spec.get("components", {}).items():
            for name in items:
                ref = f"#/components/{section}/{name}"
                if ref in conflicts:
                    renames[ref] = f"#/components/{section}/{service}.{name}"
        spec = _rewrite_refs(spec, renames)
        for tag in spec.get("tags", []):
            tags.setdefault(tag["name"], tag)
        for section, items in spec.get("components", {}).items():
            target = merged["components"].setdefault(section, {})
            for name, body in items.items():
                ref = f"#/components/{section}/{name}"
                target[f"{service}.{name}" if ref in conflicts else name] = body
        for path, item in spec.get("paths", {}).items():
            if path in PER_PROCESS_PATHS:
                continue
            if path in merged["paths"]:
                print(
                    f"openapi_merge: {path} is served by two services; keeping the first",
                    file=sys.stderr,
                )
                continue
            for method, operation in item.items():
                if method not in HTTP_METHODS:
                    continue
                if not operation.get("tags"):
                    operation["tags"] = [service]
                for tag in operation["tags"]:
                    tags.setdefault(tag, {"name": tag, "description": f"{service} service"})
            merged["paths"][path] = item
    merged["components"] = {
        section: dict(sorted(items.items())) for section, items in merged["components"].items()
    }
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def write(document: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(out)  # atomic: nginx never serves half a file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "gateway" / "openapi.json")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument(
        "--only", default=",".join(SERVICES), help="comma-separated services (default: all five)"
    )
    args = parser.parse_args()
    wanted = [s for s in args.only.split(",") if s]
    unknown = set(wanted) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")

    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        futures = {s: pool.submit(load, s, args.python) for s in wanted}
    specs, failed = {}, []
    for service, future in futures.items():
        try:
            specs[service] = future.result()
        except Exception as exc:  # report every service, then merge the ones that loaded
            failed.append(service)
            print(f"openapi_merge: {service}: {exc}", file=sys.stderr)
    write(merge(specs), args.out)
    print(f"openapi_merge: wrote {args.out} ({len(specs)} of {len(wanted)} services)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
