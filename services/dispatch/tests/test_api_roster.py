"""Branches, engineers, shifts, exceptions, on-call and vendors over HTTP (DESIGN §6)."""

from datetime import UTC, datetime, timedelta

from shared.ids import new_id
from tests.factories import MANAGER, new_branch, new_engineer, new_shift, unique


async def test_a_manager_creates_a_branch_with_location_and_etag(client, auth):
    body = {"code": unique("SH"), "name": "Shanghai", "regions": ["cn-sh", "CN-SH-PD*"]}

    response = await client.post("/v1/branches", json=body, headers=auth(**MANAGER))

    assert response.status_code == 201
    branch = response.json()
    assert branch["regions"] == ["CN-SH", "CN-SH-PD*"]
    assert branch["tier"] == 1 and branch["time_zone"] == "Asia/Shanghai"
    assert response.headers["location"] == f"/v1/branches/{branch['id']}"
    assert response.headers["etag"] == '"1"'


async def test_the_same_idempotency_key_replays_the_first_branch(client, auth):
    body, key = {"code": unique("BJ"), "name": "Beijing"}, unique("key")
    headers = {**auth(**MANAGER), "Idempotency-Key": key}

    first = await client.post("/v1/branches", json=body, headers=headers)
    second = await client.post("/v1/branches", json=body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replay"] == "true"


async def test_a_taken_branch_code_is_a_409_problem(client, auth):
    branch = await new_branch(client, auth)

    response = await client.post(
        "/v1/branches", json={"code": branch["code"], "name": "Again"}, headers=auth(**MANAGER)
    )

    assert response.status_code == 409
    assert response.json()["type"].endswith("/branch-code-taken")


async def test_agents_read_the_roster_but_cannot_change_it(client, auth):
    branch = await new_branch(client, auth)

    listed = await client.get("/v1/branches", headers=auth("agent"))
    refused = await client.post("/v1/branches", json={"code": "X", "name": "X"}, headers=auth())
    customer = await client.get(
        f"/v1/branches/{branch['id']}", headers=auth("customer", "c", new_id())
    )

    assert listed.status_code == 200
    assert refused.status_code == 403
    assert customer.status_code == 403


async def test_updating_needs_the_current_etag(client, auth):
    branch = await new_branch(client, auth)
    url = f"/v1/branches/{branch['id']}"

    missing = await client.patch(url, json={"name": "New"}, headers=auth(**MANAGER))
    stale = await client.patch(
        url, json={"name": "New"}, headers={**auth(**MANAGER), "If-Match": '"7"'}
    )
    done = await client.patch(
        url, json={"name": "New"}, headers={**auth(**MANAGER), "If-Match": '"1"'}
    )

    assert missing.status_code == 428
    assert stale.status_code == 412
    assert done.status_code == 200
    assert done.json()["name"] == "New"
    assert done.headers["etag"] == '"2"'


async def test_lists_are_cursor_paginated(client, auth):
    region = unique("PG")
    for _ in range(3):
        await new_branch(client, auth, regions=[region])

    first = (await client.get(f"/v1/branches?region={region}&limit=2", headers=auth())).json()
    second = (
        await client.get(
            f"/v1/branches?region={region}&limit=2&cursor={first['next_cursor']}", headers=auth()
        )
    ).json()

    assert len(first["items"]) == 2 and first["next_cursor"]
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    bad = await client.get("/v1/branches?cursor=nonsense", headers=auth())
    assert bad.status_code == 400


async def test_an_engineer_takes_the_tier_of_their_branch_and_normalised_skills(client, auth):
    hq = await new_branch(client, auth, tier=2, regions=[unique("HQ")])

    engineer = await new_engineer(client, auth, hq, skills=["Core Network", "core_network", "UPS"])

    assert engineer["tier"] == 2
    assert engineer["skills"] == ["core-network", "ups"]
    assert engineer["open_count"] == 0


async def test_engineer_problems_name_what_is_wrong(client, auth):
    branch = await new_branch(client, auth)
    taken = await new_engineer(client, auth, branch, shift=False)

    def body(**o):
        return {"user_id": unique("u"), "name": "X", "branch_id": branch["id"], **o}

    unknown = await client.post(
        "/v1/engineers", json=body(branch_id=str(new_id())), headers=auth(**MANAGER)
    )
    tier = await client.post("/v1/engineers", json=body(tier=2), headers=auth(**MANAGER))
    duplicate = await client.post(
        "/v1/engineers", json=body(user_id=taken["user_id"]), headers=auth(**MANAGER)
    )

    assert unknown.status_code == 422 and "branch_id" in unknown.json()["detail"]
    assert tier.status_code == 422 and tier.json()["type"].endswith("/engineer-tier-mismatch")
    assert duplicate.status_code == 409


async def test_an_engineer_reads_their_own_record(client, auth):
    branch = await new_branch(client, auth)
    engineer = await new_engineer(client, auth, branch, shift=False)

    me = await client.get("/v1/engineers/me", headers=auth("agent", engineer["user_id"]))
    nobody = await client.get("/v1/engineers/me", headers=auth("agent", unique("ghost")))

    assert me.status_code == 200 and me.json()["id"] == engineer["id"]
    assert nobody.status_code == 404


async def test_on_duty_answers_who_is_on_shift_or_on_call_when_and_why(client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    day = await new_engineer(client, auth, branch, shift=False, name=unique("Day"))
    night = await new_engineer(client, auth, branch, shift=False, name=unique("Night"))
    await new_shift(client, auth, day, weekdays=[1, 2, 3, 4, 5], starts="08:30", ends="17:00")
    monday_10 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    monday_22 = monday_10 + timedelta(hours=12)
    slot = await client.post(
        "/v1/shifts/oncall",
        json={
            "branch_id": branch["id"],
            "engineer_id": night["id"],
            "starts_at": (monday_22 - timedelta(hours=1)).isoformat(),
            "ends_at": (monday_22 + timedelta(hours=9)).isoformat(),
        },
        headers=auth(**MANAGER),
    )
    assert slot.status_code == 201, slot.text

    async def on_duty(at):
        r = await client.get(
            "/v1/engineers/on-duty",
            params={"at": at.isoformat(), "region": region, "tier": 1},
            headers=auth(),
        )
        assert r.status_code == 200, r.text
        return {i["name"]: i for i in r.json()["items"]}

    morning, evening = await on_duty(monday_10), await on_duty(monday_22)

    assert set(morning) == {day["name"]}
    assert morning[day["name"]]["on_shift"] and "Mon" in morning[day["name"]]["why"]
    assert set(evening) == {night["name"]}
    assert evening[night["name"]]["on_call"] and not evening[night["name"]]["on_shift"]


async def test_leave_takes_an_engineer_off_duty(client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineer = await new_engineer(client, auth, branch)
    now = datetime.now(UTC)

    leave = await client.post(
        "/v1/shifts/exceptions",
        json={
            "kind": "leave",
            "engineer_id": engineer["id"],
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "reason": "sick",
        },
        headers=auth(**MANAGER),
    )
    listed = await client.get(
        "/v1/engineers/on-duty", params={"region": region, "tier": 1}, headers=auth()
    )

    assert leave.status_code == 201
    assert listed.json()["items"] == []


async def test_an_exception_names_the_scope_its_kind_needs(client, auth):
    branch = await new_branch(client, auth)
    now = datetime.now(UTC)

    response = await client.post(
        "/v1/shifts/exceptions",
        json={
            "kind": "closure",
            "engineer_id": str(new_id()),
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
        },
        headers=auth(**MANAGER),
    )
    wrong_branch = await client.post(
        "/v1/shifts/exceptions",
        json={
            "kind": "closure",
            "branch_id": str(new_id()),
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
        },
        headers=auth(**MANAGER),
    )

    assert response.status_code == 422
    assert "closure" in response.json()["detail"]
    assert wrong_branch.status_code == 422
    assert branch["id"] not in wrong_branch.text


async def test_on_call_engineer_must_belong_to_the_branch(client, auth):
    one, other = await new_branch(client, auth), await new_branch(client, auth)
    engineer = await new_engineer(client, auth, other, shift=False)
    now = datetime.now(UTC)

    response = await client.post(
        "/v1/shifts/oncall",
        json={
            "branch_id": one["id"],
            "engineer_id": engineer["id"],
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=8)).isoformat(),
        },
        headers=auth(**MANAGER),
    )

    assert response.status_code == 422
    assert response.json()["type"].endswith("/engineer-not-in-branch")


async def test_a_shift_takes_the_branch_time_zone_and_can_be_changed_and_deleted(client, auth):
    branch = await new_branch(client, auth, time_zone="Asia/Urumqi")
    engineer = await new_engineer(client, auth, branch, shift=False)
    shift = await new_shift(client, auth, engineer, weekdays=[5, 1, 1])
    url = f"/v1/shifts/{shift['id']}"

    changed = await client.patch(
        url, json={"ends": "18:00"}, headers={**auth(**MANAGER), "If-Match": '"1"'}
    )
    deleted = await client.delete(url, headers=auth(**MANAGER))
    gone = await client.get(url, headers=auth())

    assert shift["time_zone"] == "Asia/Urumqi" and shift["weekdays"] == [1, 5]
    assert changed.status_code == 200 and changed.json()["ends"] == "18:00:00"
    assert deleted.status_code == 204
    assert gone.status_code == 404


async def test_a_bad_time_zone_is_refused(client, auth):
    response = await client.post(
        "/v1/branches",
        json={"code": unique("TZ"), "name": "X", "time_zone": "Mars/Olympus"},
        headers=auth(**MANAGER),
    )

    assert response.status_code == 422
    assert "IANA" in response.json()["detail"]


async def test_vendors_are_listed_by_product(client, auth):
    product = unique("Product")
    created = await client.post(
        "/v1/vendors",
        json={"name": unique("Vendor"), "products": [product], "escalation_channel": "portal"},
        headers=auth(**MANAGER),
    )

    found = await client.get("/v1/vendors", params={"product": product.upper()}, headers=auth())

    assert created.status_code == 201
    assert [v["id"] for v in found.json()["items"]] == [created.json()["id"]]


async def test_a_client_may_choose_the_id_once(client, auth):
    chosen = str(new_id())
    body = {"id": chosen, "code": unique("ID"), "name": "Chosen"}

    first = await client.post("/v1/branches", json=body, headers=auth(**MANAGER))
    again = await client.post(
        "/v1/branches", json={**body, "code": unique("ID")}, headers=auth(**MANAGER)
    )

    assert first.status_code == 201 and first.json()["id"] == chosen
    assert again.status_code == 409 and again.json()["type"].endswith("/id-taken")
