"""A ticket's life through the API: actions, confirmation, complaints, merging, messages,
attachments, timeline, lists."""

from sqlalchemy import text

from tests.factories import new_organization, new_ticket


async def act(client, headers, ticket, action, **extra):
    return await client.post(
        f"/v1/tickets/{ticket['id']}/transitions", json={"action": action, **extra}, headers=headers
    )


async def outbox_types(app, ticket_id) -> list[str]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            text("SELECT type FROM outbox WHERE subject = :id ORDER BY position"),
            {"id": ticket_id},
        )
        return [r.type for r in rows]


async def test_an_agent_works_a_ticket_to_resolution(app, client, auth):
    ticket = await new_ticket(client, auth())

    for action in ("start", "wait_customer", "resume"):
        assert (await act(client, auth(), ticket, action)).status_code == 200
    resolved = await act(
        client,
        auth(),
        ticket,
        "resolve",
        resolution="Replaced the PSU",
        category="hardware",
        method="on_site",
    )

    assert resolved.status_code == 200
    body = resolved.json()
    assert (body["status"], body["resolution"], body["category"]) == (
        "resolved",
        "Replaced the PSU",
        "hardware",
    )
    assert body["allowed_actions"] == ["close", "reopen"]
    assert await outbox_types(app, ticket["id"]) == [
        "ticket.created",
        "ticket.status_changed",
        "ticket.status_changed",
        "ticket.status_changed",
        "ticket.status_changed",
        "ticket.resolved",
    ]


async def test_an_illegal_action_is_409_naming_the_allowed_ones(client, auth):
    ticket = await new_ticket(client, auth())

    response = await act(client, auth(), ticket, "close")

    assert response.status_code == 409
    problem = response.json()
    assert problem["type"].endswith("/illegal-transition")
    assert problem["current_status"] == "new"
    assert set(problem["allowed"]) == {"start", "resolve", "cancel"}
    assert "assigned" in problem["allowed_states"]


async def test_resolving_needs_the_resolution(client, auth):
    ticket = await new_ticket(client, auth())

    response = await act(client, auth(), ticket, "resolve")

    assert response.status_code == 422


async def test_assignment_is_not_an_api_action(client, auth):
    ticket = await new_ticket(client, auth())

    response = await act(client, auth(), ticket, "assign")

    assert response.status_code == 409


async def test_the_customer_confirms_and_the_ticket_closes(app, client, auth):
    org = await new_organization(client)
    ticket = await new_ticket(client, auth(), organization_id=org["id"])
    await act(client, auth(), ticket, "resolve", resolution="Rebooted the controller")

    response = await client.post(
        f"/v1/tickets/{ticket['id']}/confirmation",
        json={"accepted": True},
        headers=auth("customer", "c-1", org["id"]),
    )

    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert (await outbox_types(app, ticket["id"]))[-1] == "ticket.closed"


async def test_a_rejected_solution_reopens_with_the_reason(client, auth):
    org = await new_organization(client)
    ticket = await new_ticket(client, auth(), organization_id=org["id"])
    await act(client, auth(), ticket, "resolve", resolution="Cleared the cache")
    customer = auth("customer", "c-1", org["id"])

    no_reason = await client.post(
        f"/v1/tickets/{ticket['id']}/confirmation", json={"accepted": False}, headers=customer
    )
    rejected = await client.post(
        f"/v1/tickets/{ticket['id']}/confirmation",
        json={"accepted": False, "reason": "Still slow"},
        headers=customer,
    )

    assert no_reason.status_code == 422
    assert (rejected.json()["status"], rejected.json()["reopen_count"]) == ("reopened", 1)
    timeline = (await client.get(f"/v1/tickets/{ticket['id']}/timeline", headers=customer)).json()
    assert "Still slow" in timeline["entries"][-1]["summary"]


async def test_a_complaint_links_to_its_ticket_and_reopens_until_the_customer_is_satisfied(
    client, auth
):
    org = await new_organization(client)
    customer = auth("customer", "c-3", org["id"])
    original = await new_ticket(client, auth(), organization_id=org["id"])
    complaint = await new_ticket(
        client,
        customer,
        kind="complaint",
        organization_id=org["id"],
        complaint_about_id=original["id"],
        subject="Nobody came",
    )
    assert (complaint["kind"], complaint["complaint_about_id"]) == ("complaint", original["id"])

    for round_ in range(2):
        await act(client, auth(), complaint, "start") if round_ else None
        await act(client, auth(), complaint, "resolve", resolution=f"Apology {round_}")
        rejected = await client.post(
            f"/v1/tickets/{complaint['id']}/confirmation",
            json={"accepted": False, "reason": "not enough"},
            headers=customer,
        )
        assert rejected.json()["status"] == "reopened"
    await act(client, auth(), complaint, "resolve", resolution="Engineer replaced")
    accepted = await client.post(
        f"/v1/tickets/{complaint['id']}/confirmation", json={"accepted": True}, headers=customer
    )

    assert (accepted.json()["status"], accepted.json()["reopen_count"]) == ("closed", 2)


async def test_a_manager_merges_a_duplicate(app, client, auth):
    org = await new_organization(client)
    keep = await new_ticket(client, auth(), organization_id=org["id"])
    dup = await new_ticket(client, auth(), organization_id=org["id"])

    by_agent = await client.post(
        f"/v1/tickets/{dup['id']}/merge", json={"into_ticket_id": keep["id"]}, headers=auth()
    )
    merged = await client.post(
        f"/v1/tickets/{dup['id']}/merge",
        json={"into_ticket_id": keep["id"]},
        headers=auth("manager"),
    )

    assert by_agent.status_code == 403
    assert merged.status_code == 200
    assert (merged.json()["status"], merged.json()["merged_into_id"]) == ("merged", keep["id"])
    assert "ticket.merged" in await outbox_types(app, dup["id"])
    target_timeline = (
        await client.get(f"/v1/tickets/{keep['id']}/timeline", headers=auth())
    ).json()["entries"]
    assert target_timeline[-1]["kind"] == "merged_in"


async def test_tickets_of_different_organisations_are_not_merged(client, auth):
    a = await new_ticket(client, auth())
    b = await new_ticket(client, auth())

    response = await client.post(
        f"/v1/tickets/{a['id']}/merge", json={"into_ticket_id": b["id"]}, headers=auth("manager")
    )

    assert response.status_code == 422


async def test_customers_never_see_internal_messages(client, auth):
    org = await new_organization(client)
    ticket = await new_ticket(client, auth(), organization_id=org["id"])
    customer = auth("customer", "c-4", org["id"])
    base = f"/v1/tickets/{ticket['id']}/messages"

    await client.post(base, json={"body": "Please send the logs"}, headers=auth())
    await client.post(
        base, json={"body": "Vendor bug 123, do not tell", "public": False}, headers=auth()
    )
    sent = await client.post(
        base, json={"body": "Logs attached", "public": False}, headers=customer
    )

    assert sent.json()["public"] is True  # a customer cannot write an internal note
    seen_by_customer = [m["body"] for m in (await client.get(base, headers=customer)).json()]
    seen_by_agent = [m["body"] for m in (await client.get(base, headers=auth())).json()]
    assert seen_by_customer == ["Please send the logs", "Logs attached"]
    assert len(seen_by_agent) == 3
    customer_timeline = (
        await client.get(f"/v1/tickets/{ticket['id']}/timeline", headers=customer)
    ).text
    assert "Vendor bug" not in customer_timeline


async def test_attachments_are_stored_checked_and_downloadable(client, auth):
    org = await new_organization(client)
    ticket = await new_ticket(client, auth(), organization_id=org["id"])
    base = f"/v1/tickets/{ticket['id']}/attachments"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

    uploaded = await client.post(
        base, files={"file": ("screen.png", png, "image/png")}, headers=auth()
    )
    disguised = await client.post(
        base,
        files={"file": ("notes.txt", b"MZ\x90\x00" + b"\0" * 60, "text/plain")},
        headers=auth(),
    )
    exe = await client.post(
        base, files={"file": ("setup.exe", b"hello", "text/plain")}, headers=auth()
    )
    internal = await client.post(
        base,
        files={"file": ("trace.log", b"secret", "text/plain")},
        data={"public": "false"},
        headers=auth(),
    )

    assert uploaded.status_code == 201
    assert (uploaded.json()["content_type"], uploaded.json()["size"]) == ("image/png", len(png))
    assert disguised.status_code == exe.status_code == 415
    download = await client.get(
        f"{base}/{uploaded.json()['id']}", headers=auth("customer", "c", org["id"])
    )
    assert download.status_code == 200 and download.content == png
    assert download.headers["x-content-type-options"] == "nosniff"
    hidden = await client.get(
        f"{base}/{internal.json()['id']}", headers=auth("customer", "c", org["id"])
    )
    assert hidden.status_code == 404


async def test_attachments_over_the_size_limit_are_413(app, client, auth):
    ticket = await new_ticket(client, auth())
    limit = app.state.settings.attachment_max_bytes

    response = await client.post(
        f"/v1/tickets/{ticket['id']}/attachments",
        files={"file": ("big.bin", b"\0" * (limit + 1), "application/octet-stream")},
        headers=auth(),
    )

    assert response.status_code == 413


async def test_patch_needs_if_match_and_only_managers_change_severity(app, client, auth):
    ticket = await new_ticket(client, auth())
    url = f"/v1/tickets/{ticket['id']}"

    no_etag = await client.patch(url, json={"category": "software"}, headers=auth())
    changed = await client.patch(
        url, json={"category": "software"}, headers={**auth(), "If-Match": '"1"'}
    )
    stale = await client.patch(url, json={"product": "X"}, headers={**auth(), "If-Match": '"1"'})
    severity_by_agent = await client.patch(
        url, json={"severity": 2}, headers={**auth(), "If-Match": '"2"'}
    )
    severity_by_manager = await client.patch(
        url,
        json={"severity": 2, "reason": "spreading"},
        headers={**auth("manager"), "If-Match": '"2"'},
    )

    assert no_etag.status_code == 428
    assert changed.status_code == 200 and changed.headers["etag"] == '"2"'
    assert stale.status_code == 412
    assert severity_by_agent.status_code == 403
    assert severity_by_manager.json()["severity"] == 2
    async with app.state.sessionmaker() as session:
        payload = (
            await session.execute(
                text(
                    "SELECT payload FROM outbox WHERE subject = :id AND type = 'ticket.updated' "
                    "ORDER BY position DESC LIMIT 1"
                ),
                {"id": ticket["id"]},
            )
        ).scalar_one()
    assert payload["data"]["changes"] == {"severity": {"old": 1, "new": 2}}


async def test_the_timeline_reads_as_the_tickets_history(client, auth):
    ticket = await new_ticket(client, auth())
    await act(client, auth(), ticket, "start")
    await client.post(
        f"/v1/tickets/{ticket['id']}/messages", json={"body": "On my way"}, headers=auth()
    )
    await act(client, auth(), ticket, "resolve", resolution="Fixed")

    entries = (await client.get(f"/v1/tickets/{ticket['id']}/timeline", headers=auth())).json()[
        "entries"
    ]

    assert [e["kind"] for e in entries] == [
        "created",
        "status_changed",
        "message",
        "status_changed",
    ]
    assert entries[1]["summary"] == "new → in_progress"
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)


async def test_lists_filter_and_page_without_repeats(client, auth):
    org = await new_organization(client)
    made = [
        await new_ticket(client, auth(), organization_id=org["id"], severity=1 + i % 2)
        for i in range(7)
    ]
    await act(client, auth(), made[0], "start")

    seen, cursor = [], None
    while True:
        params = {"organization_id": org["id"], "severity": 1, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/tickets", params=params, headers=auth())).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    in_progress = (
        await client.get(
            "/v1/tickets",
            params={"organization_id": org["id"], "status": ["in_progress", "resolved"]},
            headers=auth(),
        )
    ).json()["items"]
    by_text = (
        await client.get(
            "/v1/tickets",
            params={"organization_id": org["id"], "q": made[3]["subject"][-8:]},
            headers=auth(),
        )
    ).json()["items"]

    expected = [t["id"] for t in reversed(made) if t["severity"] == 1]
    assert seen == expected
    assert [t["id"] for t in in_progress] == [made[0]["id"]]
    assert [t["id"] for t in by_text] == [made[3]["id"]]


async def test_a_garbage_cursor_is_400(client, auth):
    response = await client.get(
        "/v1/tickets", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auth()
    )

    assert response.status_code == 400


async def test_a_well_formed_cursor_with_a_forged_key_is_400(client, auth):
    from shared.http import encode_cursor

    for path in ("/v1/tickets", "/v1/organizations", "/v1/contacts"):
        for forged in (encode_cursor(["not-a-uuid"]), encode_cursor(["a", "b"])):
            response = await client.get(path, params={"cursor": forged}, headers=auth())

            assert response.status_code == 400, (path, response.text)
            assert response.json()["type"].endswith("/invalid-cursor")
