"""Task orders and service records: approval, sign-off and review, events, printing."""

from datetime import UTC, datetime, timedelta

from tests.factories import (
    MANAGER,
    deliver,
    new_branch,
    new_engineer,
    outbox_events,
    ticket_created,
    unique,
)


async def setup_order(client, auth, app, **overrides):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    leader = await new_engineer(client, auth, branch, name=unique("Leader"))
    helper = await new_engineer(client, auth, branch, name=unique("Helper"))
    event = ticket_created(
        region=region,
        site_address="1 Century Avenue, Pudong",
        contact_name="Li Wei",
        contact_phone="+86 21 5555 0142",
        contract_number="SH-2026-017",
        serial="FDO2231X0AB",
    )
    await deliver(app, event)
    body = {
        "ticket_id": str(event.subject),
        "task": "Replace the failed supervisor module of the core switch",
        "leader_engineer_id": leader["id"],
        "engineer_ids": [helper["id"]],
        "due_at": (datetime.now(UTC) + timedelta(hours=4)).isoformat(),
        **overrides,
    }
    response = await client.post(
        "/v1/workorders", json=body, headers=auth("agent", leader["user_id"])
    )
    assert response.status_code == 201, response.text
    return event, leader, helper, response.json()


async def test_a_draft_takes_the_customer_from_the_ticket_and_is_approved_by_a_manager(
    app, client, auth
):
    event, leader, helper, order = await setup_order(client, auth, app)

    assert order["status"] == "draft"
    assert order["number"].startswith("TO-")
    assert (order["customer_name"], order["contact_name"], order["site_address"]) == (
        "Shanghai Metro",
        "Li Wei",
        "1 Century Avenue, Pudong",
    )
    assert order["engineer_ids"] == [leader["id"], helper["id"]]
    assert order["requested_by"] == leader["user_id"]
    url = f"/v1/workorders/{order['id']}"

    by_agent = await client.post(f"{url}/approve", headers=auth("agent", leader["user_id"]))
    approved = await client.post(f"{url}/approve", headers=auth(**MANAGER))
    twice = await client.post(f"{url}/approve", headers=auth(**MANAGER))

    assert by_agent.status_code == 403
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert twice.status_code == 409
    created = [
        e for e in await outbox_events(app, event.subject) if e["type"] == "workorder.created"
    ]
    assert len(created) == 1
    assert created[0]["data"]["workorder_number"] == order["number"]
    assert created[0]["data"]["approved_by"] == MANAGER["sub"]
    assert created[0]["data"]["engineer_ids"] == [leader["id"], helper["id"]]


async def test_a_rejected_order_is_revised_into_a_draft(app, client, auth):
    _, leader, _, order = await setup_order(client, auth, app)
    url = f"/v1/workorders/{order['id']}"

    rejected = await client.post(
        f"{url}/reject", json={"reason": "no spare part in stock"}, headers=auth(**MANAGER)
    )
    revised = await client.patch(
        url,
        json={"task": "Swap the whole chassis"},
        headers={**auth("agent", leader["user_id"]), "If-Match": f'"{rejected.json()["version"]}"'},
    )

    assert rejected.json()["reject_reason"] == "no spare part in stock"
    assert revised.status_code == 200
    assert (revised.json()["status"], revised.json()["reject_reason"]) == ("draft", None)


async def test_unknown_team_members_are_named(app, client, auth):
    _, leader, _, order = await setup_order(client, auth, app)

    response = await client.post(
        "/v1/workorders",
        json={
            "ticket_id": order["ticket_id"],
            "task": "x",
            "leader_engineer_id": leader["id"],
            "engineer_ids": ["01936f00-0000-7000-8000-000000000000"],
        },
        headers=auth(**MANAGER),
    )

    assert response.status_code == 422
    assert "engineer_ids" in response.json()["detail"]


async def test_a_signed_and_reviewed_record_completes_the_order(app, client, auth):
    event, _, helper, order = await setup_order(client, auth, app)
    url = f"/v1/workorders/{order['id']}"
    engineer = auth("agent", helper["user_id"])
    early = await client.post(
        f"{url}/record", json={"problem": "x", "method": "on_site"}, headers=engineer
    )
    await client.post(f"{url}/approve", headers=auth(**MANAGER))

    work = {"problem": "Supervisor module failed", "method": "on_site", "solved": True}
    record = await client.post(
        f"{url}/record", json={**work, "parts": ["WS-SUP720"]}, headers=engineer
    )
    outsider = await client.post(
        f"{url}/record/entries", json={"text": "x"}, headers=auth("agent", unique("x"))
    )
    for step in ("Diagnosed: supervisor module fault LED", "Replaced module; links up"):
        await client.post(f"{url}/record/entries", json={"text": step}, headers=engineer)
    signed = await client.post(
        f"{url}/record/sign",
        json={"customer_name": "李伟", "opinion": "满意"},
        headers=engineer,
    )
    late = await client.post(f"{url}/record/entries", json={"text": "after"}, headers=engineer)
    not_yet = (await client.get(url, headers=auth())).json()
    reviewed = await client.post(
        f"{url}/record/review", json={"comment": "Good work"}, headers=auth(**MANAGER)
    )

    assert early.status_code == 409
    assert record.status_code == 201
    assert record.json()["engineer_id"] == helper["id"]
    assert record.json()["serial"] == "FDO2231X0AB"
    assert outsider.status_code == 403
    assert [e["text"][:9] for e in signed.json()["work_log"]] == ["Diagnosed", "Replaced "]
    assert late.status_code == 409
    assert not_yet["status"] == "approved"
    assert reviewed.status_code == 200
    done = (await client.get(url, headers=auth())).json()
    assert done["status"] == "completed" and done["completed_at"]
    completed = [
        e for e in await outbox_events(app, event.subject) if e["type"] == "workorder.completed"
    ]
    assert len(completed) == 1
    data = completed[0]["data"]
    assert (data["method"], data["solved"], data["parts"]) == ("on_site", True, ["WS-SUP720"])
    assert "Replaced module" in data["work_log"]
    assert data["customer_signed"] is True and data["customer_opinion"] == "满意"


async def test_task_orders_and_records_print_in_chinese_and_english_escaping_input(
    app, client, auth
):
    _, leader, _, order = await setup_order(
        client, auth, app, task="<script>alert('x')</script> check UPS"
    )
    url = f"/v1/workorders/{order['id']}"
    await client.post(f"{url}/approve", headers=auth(**MANAGER))
    await client.post(
        f"{url}/record",
        json={"problem": "UPS battery <b>fault</b>", "method": "remote"},
        headers=auth("agent", leader["user_id"]),
    )

    zh = await client.get(f"{url}/print", headers=auth())
    en = await client.get(f"{url}/print?lang=en", headers=auth())
    record = await client.get(f"{url}/record/print?lang=zh-CN", headers=auth())
    bad = await client.get(f"{url}/print?lang=fr", headers=auth())

    assert zh.status_code == 200 and zh.headers["content-type"].startswith("text/html")
    assert "维护与服务任务书" in zh.text and order["number"] in zh.text
    assert "<script>" not in zh.text and "&lt;script&gt;" in zh.text
    assert "Maintenance and Service Task Order" in en.text and 'lang="en"' in en.text
    assert leader["name"] in en.text
    assert "维护与服务记录" in record.text and "☑ 远程" in record.text
    assert "<b>fault</b>" not in record.text
    assert bad.status_code == 422
