"""Demo data for `make up`, loaded through the gateway the way a client would (DESIGN §2).

Idempotent: every create carries a fixed Idempotency-Key (DESIGN §6), so a second `make up`
replays the first answers instead of adding rows. A missing endpoint or a refused request is
reported and skipped: demo data never keeps the stack from starting.

To add a resource, write a function returning its `Create`s and list it in STEPS, in dependency
order (organisations, then contracts, engineers, calendars and SLA policies, then tickets).

    .venv/bin/python deploy/local/demo.py [--gateway URL] [--token JWT]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

# Fixed ids, so every machine's demo data looks the same and the banner's curl works.
DEMO_ORG_ID = "0192f000-0000-7000-8000-00000000d001"
DEMO_ORG_NAME = "Demo Integrator Customer"
# The ticket in the curl command `make up` prints (not created by this script).
EXAMPLE_TICKET = {
    "subject": "Core switch down",
    "description": "Core switch in rack B2 is down; the office has no network.",
    "severity": 1,
    "organization_id": DEMO_ORG_ID,
}


@dataclass(frozen=True)
class Create:
    label: str
    path: str
    key: str  # Idempotency-Key; never change one, or reruns duplicate the resource
    body: dict


def tickets() -> list[Create]:
    def ticket(n: int, subject: str, description: str, severity: int) -> Create:
        body = {
            "subject": subject,
            "description": description,
            "severity": severity,
            "organization_id": DEMO_ORG_ID,
        }
        return Create(f"ticket {subject!r}", "/v1/tickets", f"demo-ticket-{n}", body)

    return [
        ticket(
            1,
            "UPS alarm in server room",
            "The UPS in room 2.14 beeps and shows 'battery fault' since this morning.",
            2,
        ),
        ticket(
            2,
            "VPN drops every hour",
            "Remote staff lose the VPN about once an hour; reconnecting works.",
            3,
        ),
        ticket(3, "Printer on floor 3 jams", "The floor 3 printer jams on duplex jobs.", 4),
    ]


STEPS: list[tuple[str, Callable[[], list[Create]]]] = [
    ("tickets", tickets),
]


def outcome(response: object) -> tuple[bool, str]:
    status = response.status_code
    if status in (200, 201):
        return True, f"ok ({status})"
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    detail = problem.get("detail") or problem.get("title") or response.text[:200]
    if status in (404, 405) and "no aftercare api" in str(detail).lower():
        return False, "skipped: the endpoint does not exist yet"
    return False, f"skipped: {status} {detail}"


def demo_token() -> str:
    made = subprocess.run(
        [sys.executable, "-m", "shared.auth", "token", "--role", "admin", "--sub", "demo-loader"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if made.returncode != 0 or not made.stdout.strip():
        raise RuntimeError(made.stderr.strip()[-300:] or "shared.auth printed no token")
    return made.stdout.strip().splitlines()[-1]


def main() -> int:
    default_gateway = f"http://127.0.0.1:{8080 + int(os.environ.get('AFTERCARE_PORT_OFFSET', 0))}"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default=default_gateway)
    parser.add_argument("--token", default=os.environ.get("AFTERCARE_DEMO_TOKEN"))
    args = parser.parse_args()
    # httpx is imported here so that stack.py can read the constants above with the
    # standard library alone.
    import httpx

    try:
        token = args.token or demo_token()
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"demo: no token, demo data not loaded: {exc}")
        return 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(
        base_url=args.gateway, headers=headers, timeout=10, trust_env=False
    ) as client:
        for step, make in STEPS:
            done = 0
            items = make()
            for item in items:
                try:
                    response = client.post(
                        item.path, json=item.body, headers={"Idempotency-Key": item.key}
                    )
                except httpx.HTTPError as exc:
                    print(f"demo: {item.label}: skipped: {exc!r}")
                    continue
                ok, text = outcome(response)
                done += ok
                if not ok:
                    print(f"demo: {item.label}: {text}")
            print(f"demo: {step}: {done} of {len(items)} loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
