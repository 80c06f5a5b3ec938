"""The inbound gateways over HTTP: mail in every format, CTI, SMS/IM, and their security."""

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
import uuid

import pytest

from intake import calls
from intake.cti import parse as parse_cti
from shared import db
from shared.auth import sign_webhook
from shared.db import utcnow
from tests import corpus
from tests.factories import admin_headers, new_contact, new_organization, unique

RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def gw(auth):
    return auth("integration", "mail-gateway")


def compose(sender: str, subject: str, body: str = "Hello", headers: str = "") -> bytes:
    return (
        f"From: Sender <{sender}>\r\nTo: support@aftercare.example\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@customer.example.cn>\r\nSubject: {subject}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n{headers}\r\n{body}"
    ).encode()


async def post_mail(client, raw: bytes, headers) -> dict:
    r = await client.post(
        "/v1/inbound/email", content=raw, headers={**headers, "Content-Type": "message/rfc822"}
    )
    assert r.status_code in (200, 201), r.text
    return r.json()


@pytest.mark.parametrize("path", corpus.FILES, ids=[corpus.name(p) for p in corpus.FILES])
async def test_every_corpus_mail_is_accepted_or_refused_with_a_reason(client, gw, path):
    # Some corpus mails share a Message-ID (the same mail in two versions); a run-unique prefix
    # keeps each one a first delivery, so each is checked against its own expected values.
    raw = re.sub(
        rb"(?im)^(message-id:\s*<?)",
        rb"\g<1>" + f"{RUN}.{corpus.name(path)}.".encode(),
        path.read_bytes(),
        count=1,
    )

    r = await client.post(
        "/v1/inbound/email", content=raw, headers={**gw, "Content-Type": "message/rfc822"}
    )

    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"]
        return
    got = r.json()
    assert got["disposition"] in (
        "ticket_created", "message_added", "auto_reply_stored", "auto_reply_logged"
    )  # fmt: skip
    names = [a["filename"] for a in got["attachments"]]
    assert corpus.mismatches(path, got["from_email"], got["from_name"], got["subject"], names) == []
    retry = await client.post(
        "/v1/inbound/email", content=raw, headers={**gw, "Content-Type": "message/rfc822"}
    )
    assert retry.status_code == 200 and retry.json()["id"] == got["id"]


async def test_a_new_sender_opens_a_ticket_and_a_reply_threads_by_reference(client, gw):
    sender = f"{unique()}@newcustomer.example"
    first = compose(sender, "Printer jammed")
    first_id = first.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()

    opened = await post_mail(client, first, gw)
    reply = await post_mail(
        client, compose(sender, "Re: something else", "more", f"In-Reply-To: {first_id}\r\n"), gw
    )

    assert opened["disposition"] == "ticket_created" and opened["contact_id"]
    assert reply["disposition"] == "message_added"
    assert reply["ticket_id"] == opened["ticket_id"]
    messages = await client.get(f"/v1/tickets/{opened['ticket_id']}/messages", headers=gw)
    assert [m["body"] for m in messages.json()] == ["more"]


async def test_a_sent_message_id_threads_to_its_ticket(client, gw, settings):
    opened = await post_mail(client, compose(f"{unique()}@x.example", "Disk failure"), gw)
    sent = f"<ticket-{opened['ticket_id']}.{uuid.uuid4().hex}@{settings.message_id_domain}>"

    reply = await post_mail(
        client, compose(f"{unique()}@y.example", "Re: Disk", "ok", f"References: {sent}\r\n"), gw
    )

    assert reply["ticket_id"] == opened["ticket_id"]


async def test_the_subject_tag_threads_only_for_the_tickets_organisation(client, gw):
    org = await new_organization(client)
    contact = await new_contact(client, org["id"])
    stranger = await new_contact(client, (await new_organization(client))["id"])
    opened = await post_mail(client, compose(contact["emails"][0], "UPS alarm"), gw)
    tag = f"[#{opened['ticket_number']}]"

    own = await post_mail(client, compose(contact["emails"][0].upper(), f"回复: {tag} UPS"), gw)
    guessed = await post_mail(client, compose(stranger["emails"][0], f"AW: {tag} UPS"), gw)

    assert own["disposition"] == "message_added" and own["ticket_id"] == opened["ticket_id"]
    assert own["contact_id"] == contact["id"]
    assert guessed["disposition"] == "ticket_created"
    assert guessed["ticket_id"] != opened["ticket_id"]


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-replied\r\n",
        "X-Autoreply: yes\r\n",
        "Precedence: bulk\r\n",
        "X-Auto-Response-Suppress: OOF\r\n",
        "Return-Path: <>\r\n",
    ],
)
async def test_an_auto_reply_never_opens_a_ticket(client, gw, headers):
    got = await post_mail(client, compose(f"{unique()}@x.example", "hello", "x", headers), gw)

    assert got["disposition"] == "auto_reply_logged"
    assert got["ticket_id"] is None and got["loop_signal"]


async def test_an_out_of_office_reply_is_a_system_note_on_its_ticket(client, gw):
    sender = f"{unique()}@x.example"
    opened = await post_mail(client, compose(sender, "VPN down"), gw)
    tag = f"[#{opened['ticket_number']}]"

    ooo = await post_mail(client, compose(sender, f"自动回复: {tag} VPN down", "我正在休假"), gw)

    assert ooo["disposition"] == "auto_reply_stored"
    assert ooo["ticket_id"] == opened["ticket_id"]
    messages = (await client.get(f"/v1/tickets/{opened['ticket_id']}/messages", headers=gw)).json()
    assert [(m["author_kind"], m["public"]) for m in messages] == [("system", False)]


async def test_unknown_senders_are_refused_when_configured(client, gw, app):
    settings = app.state.settings
    settings.unknown_senders = "refuse"
    try:
        r = await client.post(
            "/v1/inbound/email",
            content=compose(f"{unique()}@nobody.example", "hello"),
            headers={**gw, "Content-Type": "message/rfc822"},
        )
    finally:
        settings.unknown_senders = "contact"

    assert r.status_code == 422
    assert r.json()["type"].endswith("/unknown-sender")


async def test_a_signed_request_is_accepted_once(client, settings):
    raw = compose(f"{unique()}@x.example", "signed")
    headers = {
        "X-Aftercare-Signature": sign_webhook(settings.webhook_secret.get_secret_value(), raw),
        "Content-Type": "message/rfc822",
    }

    first = await client.post("/v1/inbound/email", content=raw, headers=headers)
    replay = await client.post("/v1/inbound/email", content=raw, headers=headers)
    forged = await client.post("/v1/inbound/email", content=raw + b"x", headers=headers)

    assert first.status_code == 201
    assert replay.status_code == 401 and "already used" in replay.json()["detail"]
    assert forged.status_code == 401


async def test_staff_tokens_and_anonymous_calls_are_refused(client, auth):
    raw = compose(f"{unique()}@x.example", "x")

    agent = await client.post("/v1/inbound/email", content=raw, headers=auth("agent"))
    anonymous = await client.post("/v1/inbound/email", content=raw)

    assert agent.status_code == 403
    assert anonymous.status_code == 401


async def test_an_oversized_body_is_refused_before_it_is_read(client, gw, app):
    limit = app.state.settings.inbound_mail_max_bytes
    headers = {**gw, "Content-Type": "message/rfc822", "Content-Length": str(limit + 1)}

    r = await client.post("/v1/inbound/email", content=b"x" * (limit + 1), headers=headers)

    assert r.status_code == 413


async def test_a_raw_mail_in_a_form_field_and_sendgrid_parsed_fields(client, gw):
    raw = compose(f"{unique()}@x.example", "form raw")
    as_form = await client.post("/v1/inbound/email", data={"email": raw.decode()}, headers=gw)
    sender = f"{unique()}@sg.example"
    parsed = await client.post(
        "/v1/inbound/email",
        data={
            "headers": f"From: SG <{sender}>\r\nMessage-ID: <{uuid.uuid4().hex}@sg>\r\n"
            "Subject: via SendGrid\r\n",
            "from": f"SG <{sender}>",
            "subject": "via SendGrid",
            "text": "parsed body",
            "attachment-info": json.dumps({"attachment1": {"filename": "log.txt"}}),
        },
        files={"attachment1": ("log.txt", b"line 1\n", "text/plain")},
        headers=gw,
    )

    assert as_form.status_code == 201, as_form.text
    assert as_form.json()["subject"] == "form raw"
    assert parsed.status_code == 201, parsed.text
    assert parsed.json()["from_email"] == sender
    assert [a["filename"] for a in parsed.json()["attachments"]] == ["log.txt"]


async def test_mailgun_routes_with_their_own_signature(client, app):
    settings = app.state.settings
    key = "mailgun-test-key"
    settings.mailgun_signing_key = type(settings.webhook_secret)(key)
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    raw = compose(f"{unique()}@mg.example", "via Mailgun")
    fields = {"timestamp": timestamp, "token": token, "signature": signature}
    try:
        mime = await client.post("/v1/inbound/email", data={**fields, "body-mime": raw.decode()})
        replay = await client.post("/v1/inbound/email", data={**fields, "body-mime": raw.decode()})
    finally:
        settings.mailgun_signing_key = None

    assert mime.status_code == 201, mime.text
    assert mime.json()["gateway"] == "mailgun"
    assert replay.status_code == 401


async def test_mailgun_parsed_fields(client, gw):
    sender = f"{unique()}@mg.example"
    r = await client.post(
        "/v1/inbound/email",
        data={
            "sender": sender,
            "from": f"MG <{sender}>",
            "subject": "parsed Mailgun",
            "body-plain": "hello",
            "message-headers": json.dumps([["Message-Id", f"<{uuid.uuid4().hex}@mg>"]]),
        },
        files={"attachment-1": ("a.png", b"\x89PNG\r\n\x1a\n0000", "image/png")},
        headers=gw,
    )

    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == "mailgun"
    assert r.json()["attachments"][0]["filename"] == "a.png"


async def test_postmark_json(client, gw):
    sender = f"{unique()}@pm.example"
    body = {
        "From": sender,
        "FromFull": {"Email": sender, "Name": "张伟"},
        "Subject": "Postmark 邮件",
        "TextBody": "正文",
        "MessageID": str(uuid.uuid4()),
        "Headers": [{"Name": "Message-ID", "Value": f"<{uuid.uuid4().hex}@pm>"}],
        "Attachments": [
            {"Name": "a.txt", "Content": base64.b64encode(b"abc").decode(),
             "ContentType": "text/plain", "ContentLength": 3}
        ],
    }  # fmt: skip

    r = await client.post("/v1/inbound/email", json=body, headers=gw)

    assert r.status_code == 201, r.text
    assert (r.json()["from_name"], r.json()["subject"]) == ("张伟", "Postmark 邮件")
    assert r.json()["attachments"][0]["stored"] is True


async def test_unsupported_mail_payloads_get_a_reason(client, gw):
    junk = await client.post("/v1/inbound/email", json={"hello": 1}, headers=gw)
    empty = await client.post(
        "/v1/inbound/email", content=b"", headers={**gw, "Content-Type": "message/rfc822"}
    )
    image = await client.post(
        "/v1/inbound/email", content=b"GIF89a", headers={**gw, "Content-Type": "image/gif"}
    )

    assert junk.status_code == 422 and "Postmark" in junk.json()["detail"]
    assert empty.status_code == 422
    assert image.status_code == 415


# Phone -----------------------------------------------------------------------------------


def number() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


async def cti(client, gw, **fields):
    r = await client.post("/v1/inbound/cti", json=fields, headers=gw)
    assert r.status_code == 200, r.text
    return r.json()


async def test_new_call_answers_with_the_caller_and_open_tickets(client, gw):
    org = await new_organization(client)
    mobile = number()
    contact = await new_contact(client, org["id"], phones=[{"number": mobile, "kind": "mobile"}])
    await client.post(
        "/v1/tickets",
        json={"subject": "open one", "contact_id": contact["id"]},
        headers=admin_headers(),
    )

    shown = await cti(client, gw, event="newCall", callId=unique(), direction="in",
                      to="4008001234", **{"from": f"+86 {mobile}"})  # fmt: skip

    assert shown["contact"]["id"] == contact["id"]
    assert shown["organization"]["id"] == org["id"]
    assert [t["subject"] for t in shown["open_tickets"]] == ["open one"]


async def test_a_missed_call_opens_one_callback_ticket_for_repeated_calls(client, gw):
    caller = number()
    first, second = unique("call-"), unique("call-")
    for call_id in (first, second):
        await cti(client, gw, event="newCall", callId=call_id, direction="in", to="400",
                  **{"from": caller})  # fmt: skip
        await cti(client, gw, event="hangup", callId=call_id, direction="in", cause="cancel",
                  **{"from": caller})  # fmt: skip
    await cti(client, gw, event="hangup", callId=second, cause="cancel")  # a duplicate

    log = (await client.get(f"/v1/calls?number={caller}", headers=gw)).json()["items"]
    assert len(log) == 2 and all(c["missed"] and c["callback"] for c in log)
    assert len({c["ticket_id"] for c in log}) == 1
    ticket = (await client.get(f"/v1/tickets/{log[0]['ticket_id']}", headers=gw)).json()
    assert ticket["channel"] == "phone" and ticket["subject"].startswith("Call back")
    messages = (await client.get(f"/v1/tickets/{ticket['id']}/messages", headers=gw)).json()
    assert len(messages) == 1


async def test_a_missed_call_of_a_contact_opens_their_callback_ticket(client, gw, auth):
    org = await new_organization(client)
    mobile = number()
    contact = await new_contact(client, org["id"], phones=[{"number": mobile, "kind": "mobile"}])
    call_id = unique("call-")
    await cti(client, gw, event="newCall", callId=call_id, direction="in", to="400",
              queue="hotline", **{"from": mobile})  # fmt: skip
    await cti(client, gw, event="hangup", callId=call_id, cause="cancel")

    (call,) = (await client.get(f"/v1/calls?number={mobile}", headers=gw)).json()["items"]
    assert (call["contact_id"], call["missed"], call["callback"]) == (contact["id"], True, True)
    ticket = (await client.get(f"/v1/tickets/{call['ticket_id']}", headers=auth())).json()
    assert (ticket["organization_id"], ticket["contact_id"]) == (org["id"], contact["id"])
    assert ticket["subject"] == f"Call back +86{mobile} ({contact['name']}): missed call"
    assert "queue hotline, cause cancel" in ticket["description"]
    assert (ticket["channel"], ticket["kind"], ticket["severity"]) == ("phone", "consultation", 3)


async def test_an_answer_reported_after_the_hangup_unmisses_the_call_with_a_note(client, gw, auth):
    caller, call_id = number(), unique("call-")
    await cti(client, gw, event="newCall", callId=call_id, direction="in", to="400",
              **{"from": caller})  # fmt: skip
    await cti(client, gw, event="hangup", callId=call_id, cause="cancel")
    await cti(client, gw, event="answer", callId=call_id, user="eng-3")

    (call,) = (await client.get(f"/v1/calls?number={caller}", headers=gw)).json()["items"]
    assert (call["missed"], call["callback"], call["state"]) == (False, True, "ended")
    messages = (
        await client.get(f"/v1/tickets/{call['ticket_id']}/messages", headers=auth())
    ).json()
    assert len(messages) == 1
    assert messages[0]["public"] is False and messages[0]["author_kind"] == "system"
    assert "answered after all" in messages[0]["body"]


async def test_out_of_order_events_leave_one_correct_call(client, gw):
    call_id = unique("call-")
    await cti(client, gw, event="answer", callId=call_id, user="eng-7", answeringNumber="801")
    await cti(client, gw, event="hangup", callId=call_id, cause="normalClearing")
    await cti(client, gw, event="newCall", callId=call_id, direction="in", to="400",
              **{"from": number()})  # fmt: skip
    await cti(client, gw, event="hangup", callId=call_id, cause="normalClearing")

    (call,) = (await client.get("/v1/calls", headers=gw)).json()["items"][:1]
    assert call["call_id"] == call_id
    assert (call["state"], call["missed"], call["ticket_id"]) == ("ended", False, None)
    assert call["users"] == ["eng-7"] and call["answering_number"] == "801"


async def test_concurrent_events_of_a_call_merge_into_one_correct_call(client, gw, auth):
    """Every event of a call at once, a repeat among them: the writes race on the call's row
    (a new call's insert, then version-checked updates) and none of them is lost."""
    callers = [number() for _ in range(6)]
    ids = [unique("race-") for _ in callers]

    async def call(call_id: str, caller: str) -> None:
        await asyncio.gather(
            cti(client, gw, event="newCall", callId=call_id, direction="in", to="400",
                **{"from": caller}),
            cti(client, gw, event="answer", callId=call_id, user="eng-1", answeringNumber="801"),
            cti(client, gw, event="answer", callId=call_id, user="eng-2"),
            cti(client, gw, event="hangup", callId=call_id, cause="normalClearing"),
            cti(client, gw, event="hangup", callId=call_id, cause="normalClearing"),
        )  # fmt: skip

    await asyncio.gather(*(call(i, c) for i, c in zip(ids, callers, strict=True)))

    for call_id, caller in zip(ids, callers, strict=True):
        (row,) = (await client.get(f"/v1/calls?number={caller}", headers=gw)).json()["items"]
        assert row["call_id"] == call_id
        assert (row["state"], row["missed"]) == ("ended", False)
        assert row["users"] == ["eng-1", "eng-2"] and row["answering_number"] == "801"
        assert row["direction"] == "in" and row["customer_number"] == f"+86{caller}"
        if row["ticket_id"] is not None:
            # A hangup handled before either answer made the call missed for that moment, as
            # one reported in that order (test_an_answer_reported_after_the_hangup_...): its
            # callback ticket then says the call was answered after all.
            assert row["callback"] is True
            url = f"/v1/tickets/{row['ticket_id']}/messages"
            messages = (await client.get(url, headers=auth())).json()
            assert [m["body"] for m in messages if "answered after all" in m["body"]]


class Counting:
    """A real connection that notes each statement sent through it."""

    def __init__(self, conn) -> None:
        self.conn, self.sent = conn, []

    async def fetchrow(self, query: str, *args):
        self.sent.append(query)
        return await self.conn.fetchrow(query, *args)


async def test_a_new_call_is_written_in_one_round_trip_and_a_repeat_still_merges(app, session):
    """A newCall is inserted without a read first; one for a call already there (a repeat, or
    one overtaken by the call's answer) is read and merged into the one call."""
    call_id, caller = unique("one-rt-"), number()
    fields = {"event": "newCall", "callId": call_id, "direction": "in", "from": caller,
              "to": "400"}  # fmt: skip
    async with db.autocommit(session) as conn:
        first, repeat = Counting(conn), Counting(conn)
        created = await calls._record_plain(first, app.state.settings, parse_cti(fields, utcnow()))
        calls._RECENT.clear()  # as if another process had written the call
        merged = await calls._record_plain(repeat, app.state.settings, parse_cti(fields, utcnow()))
        rows = await conn.fetch("SELECT id FROM call WHERE call_id = $1", call_id)

    assert first.sent == [calls._INSERT]
    assert repeat.sent == [calls._INSERT, calls._BY_CALL_ID, calls._UPDATE]
    assert [r["id"] for r in rows] == [created.id] == [merged.id]
    assert (merged.version, len(merged.events)) == (created.version + 1, 2)


async def test_the_next_event_of_a_call_written_here_is_merged_without_reading_it(app, session):
    """An answer to a call this process wrote is one UPDATE; when the row moved meanwhile (a
    write elsewhere), that UPDATE misses, the row is read and both changes are kept."""
    call_id, settings = unique("next-"), app.state.settings
    events = [
        {"event": "newCall", "callId": call_id, "direction": "in", "from": number(), "to": "400"},
        {"event": "answer", "callId": call_id, "user": "eng-1", "answeringNumber": "801"},
        {"event": "answer", "callId": call_id, "user": "eng-2"},
    ]
    async with db.autocommit(session) as conn:
        await calls._record_plain(conn, settings, parse_cti(events[0], utcnow()))
        answer, late = Counting(conn), Counting(conn)
        answered = await calls._record_plain(answer, settings, parse_cti(events[1], utcnow()))
        await conn.execute(  # another process writes the call
            "UPDATE call SET queue = 'hotline', version = version + 1 WHERE call_id = $1", call_id
        )
        final = await calls._record_plain(late, settings, parse_cti(events[2], utcnow()))

    assert answer.sent == [calls._UPDATE]
    assert answered.users == ["eng-1"] and answered.answering_number == "801"
    assert late.sent == [calls._UPDATE, calls._BY_CALL_ID, calls._UPDATE]
    assert (final.queue, final.users, final.version) == ("hotline", ["eng-1", "eng-2"], 4)


async def test_concurrent_hangups_of_a_missed_call_open_one_callback_ticket(client, gw):
    caller, call_id = number(), unique("race-")
    await asyncio.gather(
        cti(client, gw, event="newCall", callId=call_id, direction="in", to="400",
            **{"from": caller}),
        *(cti(client, gw, event="hangup", callId=call_id, cause="cancel") for _ in range(4)),
    )  # fmt: skip

    (row,) = (await client.get(f"/v1/calls?number={caller}", headers=gw)).json()["items"]
    assert (row["missed"], row["callback"]) == (True, True) and row["ticket_id"] is not None
    tickets = (await client.get("/v1/tickets?limit=200", headers=gw)).json()["items"]
    assert [t["id"] for t in tickets if caller in t["subject"]] == [row["ticket_id"]]


async def test_a_caller_registered_during_the_call_is_matched_by_its_next_event(client, gw):
    org = await new_organization(client)
    mobile, call_id = number(), unique("call-")
    shown = await cti(client, gw, event="newCall", callId=call_id, direction="in", to="400",
                      **{"from": mobile})  # fmt: skip
    assert shown["contact"] is None
    contact = await new_contact(client, org["id"], phones=[{"number": mobile, "kind": "mobile"}])
    await cti(client, gw, event="answer", callId=call_id, user="eng-1")

    (row,) = (await client.get(f"/v1/calls?number={mobile}", headers=gw)).json()["items"]
    assert (row["contact_id"], row["organization_id"]) == (contact["id"], org["id"])


async def test_an_answered_call_becomes_a_ticket_or_joins_one(client, gw, auth):
    org = await new_organization(client)
    mobile = number()
    contact = await new_contact(client, org["id"], phones=[{"number": mobile, "kind": "mobile"}])
    calls = []
    for _ in range(2):
        call_id = unique("call-")
        for ev in ("newCall", "answer", "hangup"):
            await cti(client, gw, event=ev, callId=call_id, direction="in", to="400",
                      **{"from": mobile})  # fmt: skip
        calls.append(call_id)

    created = await client.post(
        "/v1/tickets", json={"subject": "phoned in", "call_id": calls[0]}, headers=auth("agent")
    )
    again = await client.post(
        "/v1/tickets", json={"subject": "twice", "call_id": calls[0]}, headers=auth("agent")
    )
    (second,) = [
        c
        for c in (await client.get(f"/v1/calls?number={mobile}", headers=gw)).json()["items"]
        if c["call_id"] == calls[1]
    ]
    linked = await client.post(
        f"/v1/calls/{second['id']}/ticket",
        json={"ticket_id": created.json()["id"], "note": "called again"},
        headers=auth("agent"),
    )

    assert created.status_code == 201, created.text
    assert created.json()["channel"] == "phone"
    assert created.json()["contact_id"] == contact["id"]
    assert again.status_code == 409
    assert linked.status_code == 200 and linked.json()["ticket_id"] == created.json()["id"]


@pytest.mark.parametrize(
    "fields",
    [{"event": "ring", "callId": "x"}, {"event": "newCall", "callId": "x", "direction": "up"}],
)
async def test_invalid_cti_events_are_422_problems(client, gw, fields):
    r = await client.post("/v1/inbound/cti", json=fields, headers=gw)

    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


async def test_cti_accepts_form_data_and_an_empty_object(client, gw):
    form = await client.post(
        "/v1/inbound/cti",
        data={"event": "newCall", "callId": unique(), "direction": "out", "from": "801",
              "to": number(), "user[]": ["a", "b"]},
        headers=gw,
    )  # fmt: skip
    empty = await client.post("/v1/inbound/cti", json={}, headers=gw)

    assert form.status_code == 200, form.text
    assert (empty.status_code, empty.json()) == (200, {})


# SMS and IM ------------------------------------------------------------------------------


async def test_sms_threads_to_the_open_ticket_and_retries_are_one_message(client, gw):
    org = await new_organization(client)
    mobile = number()
    await new_contact(client, org["id"], phones=[{"number": mobile, "kind": "mobile"}])
    first = {"channel": "sms", "from": mobile, "text": "打印机卡纸", "external_id": unique()}
    second = {"channel": "sms", "from": f"+86{mobile}", "text": "还是不行", "external_id": unique()}

    opened = await client.post("/v1/inbound/message", json=first, headers=gw)
    follow = await client.post("/v1/inbound/message", json=second, headers=gw)
    retry = await client.post("/v1/inbound/message", json=second, headers=gw)

    assert opened.status_code == 201 and opened.json()["disposition"] == "ticket_created"
    assert follow.json()["disposition"] == "message_added"
    assert follow.json()["ticket_id"] == opened.json()["ticket_id"]
    assert retry.status_code == 200 and retry.json()["id"] == follow.json()["id"]


async def test_an_im_message_from_a_stranger_makes_a_contact_and_a_ticket(client, gw):
    body = {"channel": "wechat", "from": unique("wxid_"), "name": "王芳", "text": "你好",
            "external_id": unique(), "media": [{"filename": "a.txt",
            "data": base64.b64encode(b"log").decode()}]}  # fmt: skip

    r = await client.post("/v1/inbound/message", json=body, headers=gw)
    bad = await client.post("/v1/inbound/message", json={"channel": "fax"}, headers=gw)

    assert r.status_code == 201, r.text
    ticket = (await client.get(f"/v1/tickets/{r.json()['ticket_id']}", headers=gw)).json()
    assert ticket["channel"] == "wechat"
    assert bad.status_code == 422 and "channel" in bad.json()["detail"]
