"""/v1/sla/policies: the seeded DOMAIN.md policies, CRUD, and the targets they give."""

import uuid


def policy_body(**overrides) -> dict:
    body = {
        "key": f"p-{uuid.uuid4().hex[:8]}",
        "name": "Gold",
        "rows": [{"kind": "fault", "severity": 1, "response": 30, "resolution": 240}],
        "channel_overrides": {"phone": {"response": 10}},
        "observation_minutes": 4320,
    }
    body.update(overrides)
    return body


async def test_both_domain_policies_are_seeded(client, auth):
    faults = (await client.get("/v1/sla/policies/fault-levels", headers=auth())).json()
    classes = (await client.get("/v1/sla/policies/abcd-classes", headers=auth())).json()

    assert faults["complaint_response_minutes"] == 20
    assert {"kind": "fault", "severity": 1, "response": 60, "on_site": 120,
            "resolution": 300, "progress": 120} in faults["rows"]  # fmt: skip
    assert faults["channel_overrides"]["email"] == {"response": 720}
    assert {(r["severity"], r.get("resolution")) for r in classes["rows"]} >= {(1, 2880), (3, 6480)}


async def test_targets_explain_where_each_number_comes_from(client, auth):
    phone = await client.get(
        "/v1/sla/policies/fault-levels/targets",
        params={"kind": "fault", "severity": 1, "channel": "phone"},
        headers=auth(),
    )
    complaint = await client.get(
        "/v1/sla/policies/fault-levels/targets",
        params={"kind": "complaint", "severity": 3},
        headers=auth(),
    )
    class_c_email = await client.get(
        "/v1/sla/policies/abcd-classes/targets",
        params={"kind": "fault", "severity": 3, "channel": "email"},
        headers=auth(),
    )

    assert phone.json()["minutes"]["response"] == 15
    assert "stricter" in phone.json()["reasons"]["response"]
    assert complaint.json()["minutes"]["response"] == 20
    assert class_c_email.json()["minutes"]["response"] == 720  # 12 h beats the 72 h row


async def test_create_update_and_delete_a_policy(client, auth):
    created = await client.post("/v1/sla/policies", json=policy_body(), headers=auth("admin"))
    url = created.headers["location"]

    changed = await client.patch(
        url, json={"observation_minutes": 1440}, headers={**auth("admin"), "If-Match": '"1"'}
    )
    deleted = await client.delete(url, headers={**auth("admin"), "If-Match": '"2"'})

    assert created.status_code == 201
    assert changed.json()["observation_minutes"] == 1440
    assert changed.headers["etag"] == '"2"'
    assert deleted.status_code == 204


async def test_duplicate_rows_and_bad_thresholds_are_refused(client, auth):
    rows = [{"kind": "fault", "severity": 1, "response": 30}] * 2

    dup = await client.post("/v1/sla/policies", json=policy_body(rows=rows), headers=auth("admin"))
    bad = await client.post(
        "/v1/sla/policies", json=policy_body(warning_thresholds=[1.5]), headers=auth("admin")
    )

    assert dup.status_code == 422
    assert "two rows" in dup.json()["detail"]
    assert bad.status_code == 422


async def test_agents_cannot_change_policies(client, auth):
    response = await client.post("/v1/sla/policies", json=policy_body(), headers=auth("agent"))

    assert response.status_code == 403
