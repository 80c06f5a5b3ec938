"""What mail gateways POST → one :class:`mailparse.InboundMail`.

Recognised, in this order:
- ``message/rfc822`` (or ``text/plain``, ``application/octet-stream``) body: the raw message.
- JSON: Postmark inbound (``RawEmail`` when the server sends it, else its parsed fields).
- Form fields: a raw message in ``body-mime`` (Mailgun MIME routes), ``email`` (SendGrid raw
  mode), ``message``, ``mime`` or ``raw`` — as a field or an uploaded file; otherwise SendGrid
  parsed mode (``headers``, ``text``, ``html``, ``attachmentN`` with ``attachment-info``) or
  Mailgun parsed fields (``message-headers``, ``body-plain``, ``body-html``, ``attachment-N``,
  ``content-id-map``).
Anything else is refused with the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from intake import mailparse

RAW_FIELDS = ("body-mime", "email", "message", "mime", "raw", "rfc822")
RAW_TYPES = ("message/rfc822", "text/plain", "application/octet-stream", "text/rfc822")


class UnsupportedPayload(ValueError):
    pass


@dataclass(frozen=True)
class FilePart:
    filename: str | None
    content_type: str | None
    data: bytes


Form = dict[str, list[str | FilePart]]


def _text(form: Form, name: str) -> str | None:
    for value in form.get(name, []):
        if isinstance(value, FilePart):
            return value.data.decode("utf-8", "replace")
        return value
    return None


def _raw(form: Form, name: str) -> bytes | None:
    for value in form.get(name, []):
        if isinstance(value, FilePart):
            return value.data
        return value.encode("utf-8", "surrogateescape")
    return None


def gateway_of_form(form: Form) -> str:
    if "body-mime" in form or "message-headers" in form or "body-plain" in form:
        return "mailgun"
    if "email" in form or "headers" in form or "attachment-info" in form or "envelope" in form:
        return "sendgrid"
    return "form"


def from_raw(raw: bytes) -> mailparse.InboundMail:
    try:
        return mailparse.parse(raw)
    except mailparse.Unreadable as exc:
        raise UnsupportedPayload(str(exc))


def from_form(form: Form) -> tuple[str, mailparse.InboundMail]:
    gateway = gateway_of_form(form)
    for name in RAW_FIELDS:
        raw = _raw(form, name)
        if raw is not None:
            return gateway, from_raw(raw)
    digest = json.dumps(
        {k: [v if isinstance(v, str) else v.filename for v in vs] for k, vs in form.items()},
        sort_keys=True,
    ).encode()
    if gateway == "mailgun":
        return gateway, _mailgun(form, digest)
    if "headers" in form or "from" in form:
        return "sendgrid", _sendgrid(form, digest)
    raise UnsupportedPayload(
        "a form needs the raw message in one of the fields "
        + ", ".join(RAW_FIELDS)
        + ", or SendGrid or Mailgun parsed fields"
    )


def _files(form: Form, prefix: str) -> list[tuple[str, FilePart]]:
    return [
        (name, v)
        for name, values in form.items()
        if name.startswith(prefix)
        for v in values
        if isinstance(v, FilePart)
    ]


def _sendgrid(form: Form, digest: bytes) -> mailparse.InboundMail:
    headers = mailparse.parse_header_block(_text(form, "headers") or "")
    try:
        info = json.loads(_text(form, "attachment-info") or "{}")
    except ValueError:
        info = {}
    attachments = []
    for name, part in _files(form, "attachment"):
        meta = info.get(name, {}) if isinstance(info, dict) else {}
        cid = meta.get("content-id") if isinstance(meta, dict) else None
        attachments.append(
            mailparse.Attachment(
                filename=(meta.get("filename") if isinstance(meta, dict) else None)
                or part.filename
                or "file",
                content_type=(part.content_type or "application/octet-stream").split(";")[0],
                data=part.data,
                content_id=cid,
                inline=cid is not None,
            )
        )
    return mailparse.from_fields(
        headers=headers,
        text=_text(form, "text"),
        html_body=_text(form, "html"),
        attachments=attachments,
        from_header=_text(form, "from"),
        subject=_text(form, "subject"),
        digest_source=digest,
    )


def _mailgun(form: Form, digest: bytes) -> mailparse.InboundMail:
    try:
        pairs = json.loads(_text(form, "message-headers") or "[]")
        headers = {str(k): str(v) for k, v in pairs if isinstance(k, str)}
    except (ValueError, TypeError):
        headers = {}
    try:
        cid_map = json.loads(_text(form, "content-id-map") or "{}")
    except ValueError:
        cid_map = {}
    by_field = {v: k.strip("<>") for k, v in cid_map.items()} if isinstance(cid_map, dict) else {}
    attachments = [
        mailparse.Attachment(
            filename=part.filename or "file",
            content_type=(part.content_type or "application/octet-stream").split(";")[0],
            data=part.data,
            content_id=by_field.get(name),
            inline=name in by_field,
        )
        for name, part in _files(form, "attachment-")
    ]
    return mailparse.from_fields(
        headers=headers,
        text=_text(form, "body-plain"),
        html_body=_text(form, "body-html"),
        attachments=attachments,
        from_header=_text(form, "from") or _text(form, "sender"),
        subject=_text(form, "subject"),
        message_id=_text(form, "Message-Id"),
        digest_source=digest,
    )


def from_json(body: Any, raw_body: bytes) -> tuple[str, mailparse.InboundMail]:
    """Postmark's inbound webhook JSON."""
    if not isinstance(body, dict) or not ("From" in body or "RawEmail" in body):
        raise UnsupportedPayload(
            "JSON must be Postmark's inbound format (From, Subject, TextBody, HtmlBody, Headers, "
            "Attachments); send other gateways' raw messages as message/rfc822"
        )
    if isinstance(body.get("RawEmail"), str) and body["RawEmail"].strip():
        return "postmark", from_raw(body["RawEmail"].encode("utf-8", "surrogateescape"))
    headers: dict[str, str] = {}
    for item in body.get("Headers") or []:
        if isinstance(item, dict) and isinstance(item.get("Name"), str):
            headers.setdefault(item["Name"], str(item.get("Value", "")))
    attachments = []
    for item in body.get("Attachments") or []:
        if not isinstance(item, dict):
            continue
        try:
            data = base64.b64decode(item.get("Content") or "", validate=False)
        except (binascii.Error, ValueError):
            raise UnsupportedPayload(f"attachment {item.get('Name')!r} is not valid base64")
        cid = (item.get("ContentID") or "").strip("<>") or None
        attachments.append(
            mailparse.Attachment(
                filename=str(item.get("Name") or "file"),
                content_type=str(item.get("ContentType") or "application/octet-stream"),
                data=data,
                content_id=cid,
                inline=cid is not None,
            )
        )
    full = body.get("FromFull") if isinstance(body.get("FromFull"), dict) else {}
    from_header = body.get("From") or ""
    if full.get("Email"):
        name = str(full.get("Name") or "").replace('"', "")
        from_header = f'"{name}" <{full["Email"]}>' if name else str(full["Email"])
    for key, header in (("To", "To"), ("Cc", "Cc"), ("ReplyTo", "Reply-To"), ("Date", "Date")):
        if body.get(key) and header not in headers:
            headers[header] = str(body[key])
    postmark_id = body.get("MessageID")
    return "postmark", mailparse.from_fields(
        headers=headers,
        text=body.get("TextBody"),
        html_body=body.get("HtmlBody"),
        attachments=attachments,
        from_header=str(from_header),
        subject=body.get("Subject"),
        message_id=f"<{postmark_id}@postmark>" if postmark_id else None,
        digest_source=raw_body,
    )
