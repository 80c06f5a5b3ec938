"""Demo data for `make up`, loaded through the gateway the way a client would (DESIGN §2).

Idempotent: every create carries a fixed Idempotency-Key (DESIGN §6), so a second `make up`
replays the first answers instead of adding rows. A missing endpoint or a refused request is
reported and skipped: demo data never keeps the stack from starting.

To add a resource, write a function returning its `Create`s and list it in STEPS, in dependency
order (organisations, then contracts, engineers, calendars and SLA policies, then tickets).
Dispatch's branches, engineers and shifts come before the tickets, so the demo tickets are
routed as they arrive.

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
SECOND_ORG_ID = "0192f000-0000-7000-8000-00000000d002"
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


def organizations() -> list[Create]:
    return [
        Create(
            "organisation Demo Integrator Customer",
            "/v1/organizations",
            "demo-org-1",
            {
                "id": DEMO_ORG_ID,
                "name": DEMO_ORG_NAME,
                "region_code": "310000",
                "address": "88 Century Avenue, Pudong, Shanghai",
                "language": "zh-CN",
                "time_zone": "Asia/Shanghai",
            },
        ),
        Create(
            "organisation Hangzhou Municipal Hospital",
            "/v1/organizations",
            "demo-org-2",
            {
                "id": SECOND_ORG_ID,
                "name": "Hangzhou Municipal Hospital",
                "region_code": "330100",
                "address": "1 Qingchun Road, Hangzhou",
                "language": "zh-CN",
                "time_zone": "Asia/Shanghai",
            },
        ),
    ]


def contacts() -> list[Create]:
    def contact(n: int, org: str, name: str, email: str, phone: str, mobile: str) -> Create:
        body = {
            "organization_id": org,
            "name": name,
            "emails": [email],
            "phones": [{"number": phone, "kind": "phone"}, {"number": mobile, "kind": "mobile"}],
            "preferred_channel": "phone",
        }
        return Create(f"contact {name}", "/v1/contacts", f"demo-contact-{n}", body)

    return [
        contact(
            1,
            DEMO_ORG_ID,
            "Li Wei",
            "li.wei@demo-customer.example.cn",
            "021-5888 1234",
            "138 0013 8000",
        ),
        contact(
            2,
            DEMO_ORG_ID,
            "Chen Jing",
            "chen.jing@demo-customer.example.cn",
            "021-5888 1235",
            "139 1234 5678",
        ),
        contact(
            3,
            SECOND_ORG_ID,
            "Zhou Min",
            "it@hz-hospital.example.cn",
            "0571-8765 4321",
            "137 0000 1111",
        ),
    ]


def contracts() -> list[Create]:
    return [
        Create(
            "contract SH-2026-001 (7x24)",
            "/v1/contracts",
            "demo-contract-1",
            {
                "number": "SH-2026-001",
                "organization_id": DEMO_ORG_ID,
                "coverage": "24x7",
                "calendar_id": "24x7",
                "policy_key": "fault-levels",
                "start_date": "2026-01-01",
                "end_date": "2027-12-31",
                "service_region": "310000",
                "on_site_included": True,
            },
        ),
        Create(
            "contract HZ-2026-017 (office hours)",
            "/v1/contracts",
            "demo-contract-2",
            {
                "number": "HZ-2026-017",
                "organization_id": SECOND_ORG_ID,
                "coverage": "business_hours",
                "calendar_id": "cn-office-hours",
                "policy_key": "abcd-classes",
                "start_date": "2026-03-01",
                "end_date": "2028-02-29",
                "service_region": "330100",
                "on_site_included": True,
            },
        ),
    ]


def assets() -> list[Create]:
    def asset(
        n: int, org: str, serial: str, product: str, site: str, region: str, warranty_end: str
    ) -> Create:
        body = {
            "serial": serial,
            "product": product,
            "organization_id": org,
            "site_address": site,
            "region": region,
            "install_date": "2025-06-01",
            "warranty_end_date": warranty_end,
        }
        return Create(f"asset {serial}", "/v1/assets", f"demo-asset-{n}", body)

    return [
        asset(
            1,
            DEMO_ORG_ID,
            "HW-S5735-0001",
            "Huawei S5735 core switch",
            "Rack B2, 88 Century Avenue",
            "310115",
            "2028-06-01",
        ),
        asset(
            2,
            DEMO_ORG_ID,
            "APC-SRT10K-0042",
            "APC Smart-UPS SRT 10kVA",
            "Server room 2.14, 88 Century Avenue",
            "310115",
            "2026-06-01",
        ),
        asset(
            3,
            SECOND_ORG_ID,
            "DELL-R750-7781",
            "Dell PowerEdge R750 (HIS database)",
            "Data centre, 1 Qingchun Road",
            "330106",
            "2027-09-30",
        ),
    ]


# Dispatch: fixed ids, so the engineers, shifts and tokens below line up on every machine.
BRANCH_SH = "0192f000-0000-7000-8000-0000000db001"
BRANCH_HZ = "0192f000-0000-7000-8000-0000000db002"
BRANCH_HQ = "0192f000-0000-7000-8000-0000000db003"
ALL_WEEK = [1, 2, 3, 4, 5, 6, 7]


def branches() -> list[Create]:
    def branch(n: int, id_: str, code: str, name: str, tier: int, regions: list[str]) -> Create:
        body = {"id": id_, "code": code, "name": name, "tier": tier, "regions": regions}
        body |= {"time_zone": "Asia/Shanghai", "manager_user_id": "demo-manager"}
        return Create(f"branch {name}", "/v1/branches", f"demo-branch-{n}", body)

    return [
        branch(1, BRANCH_SH, "SH", "Shanghai branch", 1, ["31*"]),
        branch(2, BRANCH_HZ, "HZ", "Hangzhou branch", 1, ["33*"]),
        branch(3, BRANCH_HQ, "HQ", "Headquarters support centre", 2, ["*"]),
    ]


# (id, login, name, branch, skills, phone); eng-1 is the agent of the README's curl command.
ENGINEERS = [
    ("0192f000-0000-7000-8000-0000000de001", "eng-1", "Wang Qiang", BRANCH_SH,
     ["Huawei S5735 core switch", "network", "hardware"], "138 0000 0001"),
    ("0192f000-0000-7000-8000-0000000de002", "eng-2", "Zhang Li", BRANCH_SH,
     ["APC Smart-UPS SRT 10kVA", "network", "software"], "138 0000 0002"),
    ("0192f000-0000-7000-8000-0000000de003", "eng-3", "Liu Yang", BRANCH_HZ,
     ["Dell PowerEdge R750 (HIS database)", "hardware"], "138 0000 0003"),
    ("0192f000-0000-7000-8000-0000000de004", "eng-4", "Sun Hao", BRANCH_HZ,
     ["network", "software"], "138 0000 0004"),
    ("0192f000-0000-7000-8000-0000000de005", "eng-hq-1", "Chen Gang", BRANCH_HQ,
     ["Huawei S5735 core switch", "Dell PowerEdge R750 (HIS database)", "network", "hardware"],
     "138 0000 0005"),
]  # fmt: skip


def engineers() -> list[Create]:
    return [
        Create(
            f"engineer {name}",
            "/v1/engineers",
            f"demo-engineer-{n}",
            {
                "id": id_,
                "user_id": login,
                "name": name,
                "branch_id": branch,
                "skills": skills,
                "languages": ["zh-CN", "en"] if n == 5 else ["zh-CN"],
                "phone": phone,
                "email": f"{login}@aftercare.example.cn",
                "max_open": 8,
            },
        )
        for n, (id_, login, name, branch, skills, phone) in enumerate(ENGINEERS, start=1)
    ]


def shifts() -> list[Create]:
    """Day and night duty in Shanghai, office hours plus a 24-hour duty engineer in Hangzhou,
    and headquarters around the clock: someone can take a ticket whenever `make up` runs."""

    def shift(n: int, engineer: int, weekdays: list[int], starts: str, ends: str) -> Create:
        body = {"engineer_id": ENGINEERS[engineer][0], "weekdays": weekdays}
        body |= {"starts": starts, "ends": ends, "time_zone": "Asia/Shanghai"}
        label = f"shift of {ENGINEERS[engineer][2]} {starts}-{ends}"
        return Create(label, "/v1/shifts", f"demo-shift-{n}", body)

    return [
        shift(1, 0, ALL_WEEK, "08:30", "17:00"),
        shift(2, 1, ALL_WEEK, "17:00", "08:30"),
        shift(3, 2, [1, 2, 3, 4, 5], "08:30", "17:00"),
        shift(4, 3, ALL_WEEK, "00:00", "00:00"),
        shift(5, 4, ALL_WEEK, "00:00", "00:00"),
    ]


def vendors() -> list[Create]:
    def vendor(n: int, name: str, products: list[str], channel: str, address: str) -> Create:
        body = {"name": name, "products": products}
        body |= {"escalation_channel": channel, "escalation_address": address}
        return Create(f"vendor {name}", "/v1/vendors", f"demo-vendor-{n}", body)

    return [
        vendor(1, "Huawei TAC", ["Huawei S5735 core switch"], "phone", "400-822-9999"),
        vendor(
            2,
            "Dell ProSupport",
            ["Dell PowerEdge R750 (HIS database)"],
            "portal",
            "https://www.dell.com/support",
        ),
        vendor(
            3,
            "APC by Schneider Electric",
            ["APC Smart-UPS SRT 10kVA"],
            "email",
            "support.cn@se.example.com",
        ),
    ]


def tickets() -> list[Create]:
    def ticket(n: int, subject: str, description: str, severity: int, **extra) -> Create:
        body = {
            "subject": subject,
            "description": description,
            "severity": severity,
            "organization_id": DEMO_ORG_ID,
            **extra,
        }
        return Create(f"ticket {subject!r}", "/v1/tickets", f"demo-ticket-{n}", body)

    return [
        ticket(
            1,
            "UPS alarm in server room",
            "The UPS in room 2.14 beeps and shows 'battery fault' since this morning.",
            2,
            serial="APC-SRT10K-0042",
            channel="phone",
            on_site_required=True,
        ),
        ticket(
            2,
            "VPN drops every hour",
            "Remote staff lose the VPN about once an hour; reconnecting works.",
            3,
            channel="email",
        ),
        ticket(3, "Printer on floor 3 jams", "The floor 3 printer jams on duplex jobs.", 4),
        ticket(
            4,
            "HIS database server unreachable",
            "The hospital information system cannot reach its database since 07:40.",
            1,
            organization_id=SECOND_ORG_ID,
            serial="DELL-R750-7781",
            channel="phone",
            on_site_required=True,
        ),
    ]


STEPS: list[tuple[str, Callable[[], list[Create]]]] = [
    ("organisations", organizations),
    ("contacts", contacts),
    ("contracts", contracts),
    ("assets", assets),
    ("branches", branches),
    ("engineers", engineers),
    ("shifts", shifts),
    ("vendors", vendors),
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
