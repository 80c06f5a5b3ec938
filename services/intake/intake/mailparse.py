"""Inbound mail → one :class:`InboundMail` record, whatever the gateway and however broken the mail.

Rules:
- Parsing never raises on content: a defect is recorded and the best reading is kept. Only an
  empty or non-mail body is refused (:class:`Unreadable`).
- Text is decoded with the declared charset, mapped to the superset real mailers mean (GB2312 →
  GB18030, ISO-8859-1 → Windows-1252, KS C 5601 → CP949, Shift_JIS → CP932, ISO-2022-JP with NEC
  and IBM extensions → CP932); an unknown or wrong charset falls back to UTF-8, then to the other
  charsets the mail declares, then to a guess between GB18030 and Windows-1252. Raw 8-bit header
  bytes are decoded the same way.
- The text body is the first text/plain part; HTML-only mail gets its text derived from the
  HTML. HTML is always sanitised (nh3) before anyone stores it.
- Every other leaf is an attachment. Parts without a file name are named the way help desks
  name them (``<subject>.eml``, ``Delivery report.txt``, ``image.jpg``), inline images keep
  their Content-ID, and names are made unique within the mail.
- Loop signals (RFC 3834 Auto-Submitted, X-Autoreply/X-Autorespond, Precedence
  bulk/junk/list/auto_reply, X-Auto-Response-Suppress, multipart/report, MAILER-DAEMON or an
  empty return path, out-of-office subjects in Chinese and English) are reported, not acted on.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import html
import quopri
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime

import nh3

MAX_PARTS = 500
MAIL_HEADERS = ("From", "Sender", "Return-Path", "Subject", "Date", "Message-ID", "To", "Received")
MAX_DEPTH = 20

CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "cn-gb": "gb18030",
    "chinese": "gb18030",
    "csgb2312": "gb18030",
    "big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "unicode-1-1-utf-7": "utf-7",
    "utf7": "utf-7",
    "utf8": "utf-8",
    "iso-2022-jp": "iso-2022-jp",
    "unknown-8bit": "",
    "x-unknown": "",
    "unknown": "",
    "default": "",
}

OUT_OF_OFFICE = re.compile(
    r"out of (the )?office|out-of-office|\bauto(matic|matische)?[ -]?(reply|response|antwort)"
    r"|\bautoreply|\bvacation\b|\babwesen|\bon leave\b|\bnot in the office"
    r"|自动回复|自动答复|自動回覆|自動回復|不在办公室|外出|休假|请假|暂时无法回复",
    re.IGNORECASE,
)
BOUNCE_SUBJECT = re.compile(
    r"^(undeliver(ed|able)|delivery (status notification|failure|has failed)|returned mail"
    r"|mail delivery failed|failure notice|退信|系统退信|邮件投递失败|無法傳遞|未送达)",
    re.IGNORECASE,
)
REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|antwort|wg|fw|fwd|tr|rif|r|odp|enc|res|回复|回覆|答复|答覆|转发"
    r"|轉寄|转寄|返信|転送)\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*)+",
    re.IGNORECASE,
)
TICKET_TAG = re.compile(r"\[#(\d{6,12})\]")
ENCODED_WORD = re.compile(r"=\?([^?\s]+?)\?([bBqQ])\?([^?]*?)\?=")
TYPE_NAMES = {
    "image/jpeg": "image.jpg",
    "image/jpg": "image.jpg",
    "image/pjpeg": "image.jpg",
    "image/png": "image.png",
    "image/gif": "image.gif",
    "image/bmp": "image.bmp",
    "image/tiff": "image.tiff",
    "video/quicktime": "video.mov",
    "text/html": "document.html",
    "text/plain": "document.txt",
    "text/calendar": "invite.ics",
    "application/pdf": "document.pdf",
    "application/pgp-signature": "signature.asc",
    "application/pkcs7-signature": "smime.p7s",
    "application/x-pkcs7-signature": "smime.p7s",
    "application/pkcs7-mime": "smime.p7m",
    "application/x-pkcs7-mime": "smime.p7m",
    "application/ms-tnef": "winmail.dat",
}


class Unreadable(ValueError):
    """The body is not a mail at all (empty, or no header section)."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass
class InboundMail:
    """The one record every gateway format becomes; threading and storage read only this."""

    message_id: str | None
    from_email: str
    from_name: str
    subject: str | None
    text: str = ""
    html: str | None = None
    to: str = ""
    cc: str = ""
    reply_to: str | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    related_ids: list[str] = field(default_factory=list)  # Message-IDs inside a bounce
    date: datetime | None = None
    return_path: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    loop_signal: str | None = None
    defects: list[str] = field(default_factory=list)
    sha256: str = ""
    size: int = 0

    @property
    def key(self) -> str:
        """What makes a retry recognisable: the Message-ID, else a digest of the content."""
        return self.message_id or f"<sha256.{self.sha256}@no-message-id>"

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, nearest first."""
        seen: dict[str, None] = {}
        for mid in [*self.in_reply_to, *reversed(self.references), *self.related_ids]:
            seen.setdefault(mid, None)
        return list(seen)


# Charsets --------------------------------------------------------------------------------


def codec_for(charset: str | None) -> str | None:
    """The Python codec to use for a declared charset; None when it names nothing usable."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    name = CHARSET_ALIASES.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _iso2022jp_as_cp932(data: bytes) -> str:
    """ISO-2022-JP as Japanese mailers write it (CP50220): JIS X 0208 rows plus NEC row 13 and
    IBM extensions, which no stock codec reads. Each two-byte JIS pair is mapped to Shift_JIS
    and decoded as CP932."""
    out: list[str] = []
    mode = "ascii"
    i = 0
    while i < len(data):
        if data[i] == 0x1B:
            seq = data[i : i + 3]
            if seq in (b"\x1b$B", b"\x1b$@"):
                mode, i = "jis", i + 3
                continue
            if seq in (b"\x1b(B", b"\x1b(J"):
                mode, i = "ascii", i + 3
                continue
            if seq == b"\x1b(I":
                mode, i = "kana", i + 3
                continue
        b = data[i]
        if mode == "jis" and b not in (0x0A, 0x0D) and i + 1 < len(data):
            c1, c2 = b, data[i + 1]
            s1 = ((c1 + 1) >> 1) + (0x70 if c1 <= 0x5E else 0xB0)
            s2 = c2 + (0x1F if c2 <= 0x5F else 0x20) if c1 & 1 else c2 + 0x7E
            out.append(bytes([s1 & 0xFF, s2 & 0xFF]).decode("cp932", "replace"))
            i += 2
        elif mode == "kana":
            out.append(bytes([b | 0x80]).decode("cp932", "replace"))
            i += 1
        else:
            out.append(chr(b) if b < 0x80 else "\ufffd")
            i += 1
    return "".join(out)


def _looks_cjk(data: bytes) -> bool:
    """Double-byte text has its high bytes in pairs; Latin-1 text has them alone."""
    high = paired = 0
    prev_high = False
    for b in data[:20000]:
        is_high = b >= 0x80
        if is_high:
            high += 1
            if prev_high:
                paired += 2
                prev_high = False
                continue
        prev_high = is_high
    return high > 0 and paired >= high * 0.8


def decode_bytes(data: bytes, charset: str | None, hints: tuple[str, ...] = ()) -> str:
    """Text of ``data``: the declared charset if it decodes cleanly, else UTF-8, the other
    charsets of the same mail, a CJK/Latin guess; never raises."""
    codec = codec_for(charset)
    if (codec == "iso2022_jp" or (charset or "").lower().startswith("iso-2022-jp")) and (
        data.isascii()
    ):
        try:
            return data.decode("iso2022_jp_ext")
        except UnicodeDecodeError:
            return _iso2022jp_as_cp932(data)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    if data.isascii() and b"\x1b$" not in data:
        return data.decode("ascii")
    candidates = ["utf-8", *(c for h in hints if (c := codec_for(h)))]
    if b"\x1b$" in data:
        candidates.insert(0, "iso2022_jp_ext")
    japanese = any((codec_for(h) or "").startswith(("iso2022_jp", "cp932", "euc_jp")) for h in
                   (charset or "", *hints))  # fmt: skip
    if japanese:
        candidates.insert(1, "cp932")
    candidates += ["gb18030", "cp932"] if _looks_cjk(data) else ["cp1252"]
    for candidate in dict.fromkeys(candidates):
        if candidate == codec or (candidate in ("cp1252", "ascii") and _looks_cjk(data)):
            continue
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(codec or "utf-8", "replace")


# Headers ---------------------------------------------------------------------------------


def _b64(payload: str) -> bytes:
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4 if len(cleaned) % 4 == 1 else None]
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        return b""


def decode_words(value: str, hints: tuple[str, ...] = ()) -> str:
    """RFC 2047 encoded words → text. Adjacent words of one charset are joined as bytes before
    decoding (a multi-byte character may be split between them); bad charsets, bad base64 and
    words glued to other text are all tolerated."""
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: tuple[str, bytearray] | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            out.append(decode_bytes(bytes(pending[1]), pending[0], hints))
            pending = None

    for m in ENCODED_WORD.finditer(value):
        between = value[pos : m.start()]
        if between and not (pending is not None and between.isspace()):
            flush()
            out.append(between)
        charset = m.group(1).split("*", 1)[0]
        payload = m.group(3)
        if m.group(2) in "bB":
            data = _b64(payload)
        else:
            data = quopri.decodestring(payload.replace("_", " ").encode("latin-1", "replace"), True)
        if pending is not None and pending[0].lower() == charset.lower():
            pending[1].extend(data)
        else:
            flush()
            pending = (charset, bytearray(data))
        pos = m.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def raw_to_text(raw: str, hints: tuple[str, ...] = ()) -> str:
    """A header value as the parser stored it (8-bit bytes kept as surrogates) → text."""
    try:
        data = raw.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        text = raw  # already text (a gateway's parsed field)
    else:
        text = data.decode("ascii") if data.isascii() else decode_bytes(data, None, hints)
    return decode_words(text, hints)


FOLD = re.compile(r"\r?\n[ \t]*")
WHITESPACE = re.compile(r"\s+")


def _unfold(value: str) -> str:
    return FOLD.sub(" ", value).strip()


def _collapse(value: str) -> str:
    return " ".join(value.split())


def message_ids(value: str | None) -> list[str]:
    """``<id>`` tokens of In-Reply-To / References (bare ids without brackets too)."""
    if not value:
        return []
    found = re.findall(r"<([^<>\s]+)>", value)
    if not found:
        found = [t for t in value.split() if "@" in t]
    return [f"<{f.strip()}>" for f in found][:100]


def normalise_message_id(value: str | None) -> str | None:
    ids = message_ids(value)
    if ids:
        return ids[0][:998]
    text = (value or "").strip()
    return f"<{text[:996]}>" if text else None


def parse_address(raw: str, hints: tuple[str, ...] = ()) -> tuple[str, str]:
    """(display name, address) of a From-like header; the address is never decoded, so an
    encoded word in the local part stays what it is (RFC 2047 §5)."""
    raw = raw.strip()
    if not raw:
        return "", ""
    text = raw_to_text_keep_words(raw, hints)
    pairs = [(n, a) for n, a in getaddresses([text]) if a or n]
    if not pairs:
        return "", ""
    name, address = pairs[0]
    if "@" not in address:
        m = re.search(r"<([^<>]+)>", text)
        if m:
            address = m.group(1)
        elif not address:
            m = re.search(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+", text)
            address = m.group(0) if m else ""
    name = decode_words(name, hints).strip().strip("\"'").strip()
    without_comments = re.sub(r"\s*\([^()]*\)", "", name).strip()
    quoted = '"' in text.split("<", 1)[0]
    if without_comments and not quoted:  # "MAILER-DAEMON (Mail Delivery System)": the phrase
        name = without_comments
    if name == address:
        name = ""
    return _collapse(name), address.strip().strip("<>").strip()


def raw_to_text_keep_words(raw: str, hints: tuple[str, ...]) -> str:
    try:
        data = raw.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return raw
    return data.decode("ascii") if data.isascii() else decode_bytes(data, None, hints)


def decode_address_list(raw: str | None, hints: tuple[str, ...] = ()) -> str:
    if not raw:
        return ""
    text = raw_to_text_keep_words(raw, hints)
    out = []
    for name, address in getaddresses([text]):
        if not address and not name:
            continue
        name = decode_words(name, hints).strip()
        out.append(f'"{name}" <{address}>' if name and address else address or name)
    return ", ".join(out)


# Loop protection -------------------------------------------------------------------------


def loop_signal(headers: dict[str, str], subject: str, from_email: str, report: bool) -> str | None:
    """Why this mail is an auto-reply or a bounce (RFC 3834 and common practice), or None."""
    h = {k.lower(): v.strip() for k, v in headers.items()}
    auto = h.get("auto-submitted", "").lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto[:60]}"
    for name in ("x-autoreply", "x-autorespond", "x-autogenerated", "x-auto-reply"):
        if name in h:
            return f"{name}: {h[name][:60]}"
    precedence = h.get("precedence", "").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply", "auto-reply"):
        return f"Precedence: {precedence}"
    if h.get("x-auto-response-suppress"):
        return f"X-Auto-Response-Suppress: {h['x-auto-response-suppress'][:60]}"
    if report:
        return "multipart/report (delivery or read report)"
    if "x-failed-recipients" in h:
        return "X-Failed-Recipients"
    local = from_email.split("@", 1)[0].lower()
    if local in ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"):
        return f"sender {from_email}"
    if "return-path" in h and h["return-path"].replace(" ", "") in ("<>", ""):
        return "empty Return-Path"
    if subject and (OUT_OF_OFFICE.search(subject) or BOUNCE_SUBJECT.search(subject.strip())):
        return f"subject: {subject[:60]}"
    return None


# Subjects --------------------------------------------------------------------------------


def strip_reply_prefixes(subject: str) -> str:
    """``Re: AW: 回复: 转发: Fwd:`` and friends removed, for matching only."""
    return REPLY_PREFIX.sub("", subject or "").strip()


def ticket_number(subject: str | None) -> int | None:
    """The ticket tag ``[#100042]`` in a subject, reply prefixes ignored."""
    m = TICKET_TAG.search(strip_reply_prefixes(subject or ""))
    return int(m.group(1)) if m else None


# HTML ------------------------------------------------------------------------------------

SAFE_TAGS = nh3.ALLOWED_TAGS | {"font", "center", "span", "div", "img", "table", "tr", "td"}
SAFE_ATTRIBUTES = {
    **{k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign"},
    "font": {"color", "size", "face"},
    "a": {"href", "title"},
}


_CLEANER = nh3.Cleaner(
    tags=SAFE_TAGS,
    clean_content_tags={"script", "style", "title"},
    attributes=SAFE_ATTRIBUTES,
    url_schemes={"http", "https", "mailto", "cid", "tel"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def sanitise_html(markup: str) -> str:
    """Scripts, styles, titles, event handlers, forms and remote-content tricks removed (nh3);
    ``cid:`` image sources kept so inline images still resolve. The output is serialised
    HTML: every ``<`` and ``>`` in it belongs to a tag (text and attribute values have them
    escaped), which :func:`clean_html_text` relies on."""
    return _CLEANER.clean(markup)


# A tag of sanitised HTML: (slash, name); its attribute values hold no ">".
_CLEAN_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)[^>]*>")
_BLOCK = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"})
_LINE = frozenset({"br", "tr", "li"})


def clean_html_text(clean: str) -> str:
    """The text of sanitised HTML (:func:`sanitise_html`'s output): a line break at each block
    element's start and end, and at the start of each line break, table row and list item
    (one per line), a space before each table cell, runs of white space as one space,
    character references resolved."""
    pieces = _CLEAN_TAG.split(clean)
    parts = [WHITESPACE.sub(" ", html.unescape(pieces[0]))]
    for i in range(1, len(pieces), 3):
        closing, name, data = pieces[i], pieces[i + 1].lower(), pieces[i + 2]
        if name in _BLOCK or (name in _LINE and not closing):
            parts.append("\n")
        elif name == "td" and not closing:
            parts.append(" ")
        if data:
            parts.append(WHITESPACE.sub(" ", html.unescape(data)))
    lines = [line.strip() for line in "".join(parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# The MIME walk ---------------------------------------------------------------------------


class _OneParsePolicy(EmailPolicy):
    """``policy.default`` whose parsed header objects are built once per raw header value.

    The stdlib builds a new header object (a full RFC 5322/2045 parse) on every header access:
    each ``get_content_type()``, ``get_param()``, ``get_filename()``, ``get_boundary()``, by the
    feed parser itself as much as by the walk below. A header object is a pure function of its
    name and raw value and is immutable, so handing out the one already built changes nothing
    but the cost. One instance serves one parse; its cache dies with the parsed message.
    """

    def header_fetch_parse(self, name, value):
        if type(value) is not str:  # an object already (never the case for parsed mail)
            return super().header_fetch_parse(name, value)
        cache = self._header_cache
        key = (name, value)
        header = cache.get(key)
        if header is None:
            header = cache[key] = super().header_fetch_parse(name, value)
        return header


def _parser() -> BytesParser:
    """A parser with ``policy.default`` semantics and a header cache for this parse only."""
    one = _OneParsePolicy(header_factory=EmailPolicy.header_factory)
    object.__setattr__(one, "_header_cache", {})  # policies are read-only by design
    return BytesParser(policy=one)


def _raw_header(part: Message, name: str) -> str | None:
    lname = name.lower()
    for key, value in part._headers:  # the raw source; policy objects would lose 8-bit bytes
        if key.lower() == lname:
            return _unfold(value) if isinstance(value, str) else str(value)
    return None


def _declared_charsets(msg: Message) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for part in _leaves(msg, depth=0, limit=[MAX_PARTS]):
        try:
            cs = part.get_param("charset")
        except Exception:
            continue
        if isinstance(cs, tuple):
            cs = cs[2]
        if isinstance(cs, str) and codec_for(cs) and codec_for(cs) not in ("cp1252",):
            found.setdefault(cs.lower(), None)
    for value in (_raw_header(msg, "Subject") or "", _raw_header(msg, "From") or ""):
        for m in ENCODED_WORD.finditer(value):
            if codec_for(m.group(1)):
                found.setdefault(m.group(1).lower(), None)
    return tuple(found)


def _leaves(part: Message, depth: int, limit: list[int]):
    if limit[0] <= 0 or depth > MAX_DEPTH:
        return
    limit[0] -= 1
    if part.is_multipart() and not _content_type(part).startswith("message/"):
        payload = part.get_payload()
        if isinstance(payload, list):
            for child in payload:
                if isinstance(child, Message):
                    yield from _leaves(child, depth + 1, limit)
        return
    yield part


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _payload(part: Message) -> bytes:
    ctype = _content_type(part)
    if ctype.startswith("message/") or ctype == "text/rfc822-headers":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            try:
                return inner[0].as_bytes(policy=policy.compat32)
            except Exception:
                return str(inner[0]).encode("utf-8", "surrogateescape")
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            return payload.encode("ascii", "surrogateescape")
        return b""
    return data


def _filename(part: Message, hints: tuple[str, ...]) -> str | None:
    name = None
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name and "\ufffd" not in name and "=?" not in name:
        return name.strip() or None
    for header in ("Content-Disposition", "Content-Type"):
        raw = _raw_header(part, header) or ""
        m = re.search(r"(?:file)?name\*?\s*=\s*(\"([^\"]*)\"|[^;]+)", raw, re.IGNORECASE)
        if m:
            value = m.group(2) if m.group(2) is not None else m.group(1).strip()
            if "''" in value[:40] and value.split("''", 1)[0].replace("-", "").isalnum():
                from urllib.parse import unquote_to_bytes

                charset, _, encoded = value.partition("''")
                return decode_bytes(unquote_to_bytes(encoded), charset, hints).strip() or None
            return raw_to_text(value, hints).strip() or None
    return name.strip() if name else None


def _charset(part: Message) -> str | None:
    try:
        cs = part.get_param("charset")
    except Exception:
        return None
    if isinstance(cs, tuple):
        cs = cs[2]
    return cs if isinstance(cs, str) else None


def _inner_subject(part: Message, hints: tuple[str, ...]) -> str | None:
    inner = part.get_payload()
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        raw = _raw_header(inner[0], "Subject")
        if raw:
            return _collapse(raw_to_text(raw, hints)) or None
    return None


def _extension(ctype: str) -> str:
    return TYPE_NAMES.get(ctype, "").rpartition(".")[2]


def _invent_name(part: Message, ctype: str, content_id: str | None, hints) -> str:
    description = _collapse(raw_to_text(_raw_header(part, "Content-Description") or "", hints))
    if ctype == "message/rfc822":
        base = _inner_subject(part, hints) or description or "Mail"
        return f"{base}.eml"
    if ctype == "message/delivery-status":
        return f"{description or 'delivery-status'}.txt"
    if content_id:
        m = re.match(r"(.+?\.[A-Za-z0-9]{2,6})@", content_id)
        if m:
            return m.group(1)
        if ctype not in TYPE_NAMES:
            return content_id.split("@", 1)[0] or "file"
    return TYPE_NAMES.get(ctype, "file")


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        taken.add(name)
        return name
    stem, dot, ext = name.partition(".")
    n = 1
    while True:
        candidate = f"{stem}{n}.{ext}" if dot else f"{stem}{n}"
        if candidate not in taken:
            taken.add(candidate)
            return candidate
        n += 1


UUENCODED = re.compile(
    r"^begin [0-7]{3,4} (?P<name>[^\r\n]+)\r?\n(?P<body>.*?)^end\s*$", re.MULTILINE | re.DOTALL
)


def _uudecode(body: str) -> bytes:
    out = bytearray()
    for line in body.splitlines():
        if not line or line.strip() == "`":
            continue
        try:
            out.extend(binascii.a2b_uu(line))
        except binascii.Error:
            n = (((ord(line[0]) - 32) & 63) * 4 + 5) // 3
            try:
                out.extend(binascii.a2b_uu(line[:n]))
            except binascii.Error:
                continue
    return bytes(out)


def _walk(msg: Message, mail: InboundMail, hints: tuple[str, ...]) -> None:
    texts: list[str] = []
    htmls: list[str] = []
    taken: set[str] = set()
    report = False
    for part in _leaves(msg, 0, [MAX_PARTS]):
        ctype = _content_type(part)
        disposition = (_raw_header(part, "Content-Disposition") or "").split(";")[0].strip().lower()
        filename = _filename(part, hints)
        raw_cid = _raw_header(part, "Content-ID")
        content_id = raw_cid.strip().strip("<>").strip() if raw_cid else None
        is_body_text = ctype in ("text/plain", "text/html") and disposition != "attachment"
        if is_body_text and not filename:
            if ctype == "text/plain" and (not texts or not htmls):
                texts.append(decode_bytes(_payload(part), _charset(part), hints))
                continue
            if ctype == "text/html" and not htmls:
                htmls.append(decode_bytes(_payload(part), _charset(part), hints))
                continue
        if ctype in ("message/delivery-status", "message/disposition-notification"):
            report = True
        if ctype in ("message/rfc822", "text/rfc822-headers") and report:
            mail.related_ids.extend(_ids_in(part, ctype))
        data = _payload(part)
        name = filename or _invent_name(part, ctype, content_id, hints)
        inline = disposition == "inline" or (disposition == "" and content_id is not None)
        mail.attachments.append(
            Attachment(
                filename=_unique(name, taken),
                content_type=ctype,
                data=data,
                content_id=content_id,
                inline=inline and content_id is not None,
            )
        )
    text = "\n\n".join(t for t in texts if t.strip())
    for m in list(UUENCODED.finditer(text)):
        mail.attachments.append(
            Attachment(_unique(m.group("name").strip(), taken), "application/octet-stream",
                       _uudecode(m.group("body")))
        )  # fmt: skip
        text = text.replace(m.group(0), "")
    if htmls:
        mail.html = sanitise_html(htmls[0])
        if not text.strip():
            text = clean_html_text(mail.html)
    mail.text = text.replace("\r\n", "\n").strip()
    if report:
        mail.defects.append("report")


def _ids_in(part: Message, ctype: str) -> list[str]:
    inner = part.get_payload()
    source = inner[0] if isinstance(inner, list) and inner else None
    if ctype == "text/rfc822-headers":
        try:
            source = BytesParser(policy=policy.compat32).parsebytes(
                _payload(part), headersonly=True
            )
        except Exception:
            return []
    if not isinstance(source, Message):
        return []
    ids = message_ids(_raw_header(source, "Message-ID"))
    ids += message_ids(_raw_header(source, "References"))
    return ids


# Recovering headers lost to broken folding -----------------------------------------------

HEADER_LINE = re.compile(rb"^([!-9;-~]+):[ \t]?(.*)$")
RECOVER = ("from", "to", "cc", "subject", "date", "message-id", "reply-to", "in-reply-to")


def _repair(raw: bytes) -> bytes:
    """Rejoins a header section that broke early: a line without leading whitespace that is
    not ``Name: value`` continues the previous header instead of ending the section."""
    head, _, body = raw.partition(b"\n\n") if b"\r\n\r\n" not in raw else raw.partition(b"\r\n\r\n")
    lines = head.splitlines()
    fixed: list[bytes] = []
    for line in lines:
        if fixed and line and not HEADER_LINE.match(line) and line[:1] not in (b" ", b"\t"):
            fixed.append(b" " + line)
        else:
            fixed.append(line)
    return b"\r\n".join(fixed) + b"\r\n\r\n" + body


# The entry point -------------------------------------------------------------------------


def parse(raw: bytes) -> InboundMail:
    """Parses a raw RFC 5322 message (bytes as received) into an :class:`InboundMail`."""
    if not raw or not raw.strip():
        raise Unreadable("the message is empty")
    raw = raw.lstrip(b"\r\n")
    if raw.startswith(b"From ") and b"\n" in raw:  # an mbox separator line, not a header
        raw = raw.split(b"\n", 1)[1]
    for _ in range(3):  # a forwarder's "---- Original message ----" line above the headers
        first, nl, rest = raw.partition(b"\n")
        if (
            nl
            and not HEADER_LINE.match(first.rstrip(b"\r"))
            and HEADER_LINE.match(rest.split(b"\n", 1)[0].rstrip(b"\r"))
        ):
            raw = rest
    msg = _parser().parsebytes(raw)
    if any(type(d).__name__ == "MissingHeaderBodySeparatorDefect" for d in msg.defects):
        repaired = _parser().parsebytes(_repair(raw))
        if len(repaired.keys()) > len(msg.keys()):
            msg = repaired
    if not msg.keys():
        raise Unreadable("no header section: this is not an RFC 5322 message")
    if not any(_raw_header(msg, h) for h in MAIL_HEADERS):
        raise Unreadable("none of From, To, Subject, Date or Message-ID: not a mail")
    hints = _declared_charsets(msg)
    headers: dict[str, str] = {}
    for key, value in msg._headers:
        text = _unfold(value) if isinstance(value, str) else str(value)
        if key.lower() == "from" and key in headers and "@" not in parse_address(headers[key])[1]:
            headers[key] = text  # a later From with an address beats an unusable first one
        headers.setdefault(key, text)
    mail = _from_headers(headers, hints)
    mail.sha256 = hashlib.sha256(raw).hexdigest()
    mail.size = len(raw)
    try:
        _walk(msg, mail, hints)
    except Exception as exc:  # one broken part must not lose the mail: keep what was read
        mail.defects.append(f"walk: {type(exc).__name__}")
    report = _content_type(msg) == "multipart/report" or "report" in mail.defects
    mail.defects = [d for d in mail.defects if d != "report"]
    mail.defects += sorted({type(d).__name__ for d in _all_defects(msg)})
    mail.loop_signal = loop_signal(headers, mail.subject or "", mail.from_email, report)
    return mail


def _all_defects(msg: Message):
    yield from msg.defects
    for part in _leaves(msg, 0, [MAX_PARTS]):
        if part is not msg:
            yield from part.defects


def _from_headers(headers: dict[str, str], hints: tuple[str, ...]) -> InboundMail:
    h = {k.lower(): v for k, v in headers.items()}
    from_name, from_email = parse_address(h.get("from", ""), hints)
    if not from_email:
        for fallback in ("sender", "reply-to", "return-path"):
            from_name, from_email = parse_address(h.get(fallback, ""), hints)
            if from_email:
                break
    subject = _collapse(raw_to_text(h["subject"], hints)) if "subject" in h else None
    date = None
    if h.get("date"):
        date = parse_date(h["date"])
    reply_to = decode_address_list(h.get("reply-to"), hints) or None
    return InboundMail(
        message_id=normalise_message_id(h.get("message-id")),
        from_email=from_email,
        from_name=from_name,
        subject=subject,
        to=decode_address_list(h.get("to"), hints),
        cc=decode_address_list(h.get("cc"), hints),
        reply_to=reply_to,
        in_reply_to=message_ids(h.get("in-reply-to")),
        references=message_ids(h.get("references")),
        date=date,
        return_path=h.get("return-path"),
    )


def parse_date(value: str) -> datetime | None:
    """A Date header in UTC; a date run together with the next header, or one without an
    offset, is read as far as it goes (no offset means UTC, RFC 5322 §3.3 ``-0000``)."""
    text = value.strip()
    m = re.match(
        r"^(?:\w{3},\s*)?\d{1,2}\s+\w{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[+-]\d{4}|\s*[A-Z]{1,5})?",
        text,
    )
    try:
        parsed = parsedate_to_datetime(m.group(0) if m else text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def from_fields(
    *,
    headers: dict[str, str],
    text: str | None,
    html_body: str | None,
    attachments: list[Attachment],
    from_header: str | None = None,
    subject: str | None = None,
    message_id: str | None = None,
    digest_source: bytes = b"",
) -> InboundMail:
    """The record from a gateway that already parsed the mail (SendGrid parsed mode, Mailgun
    parsed fields, Postmark JSON): headers, bodies and files as it sent them."""
    h = dict(headers)
    lower = {k.lower() for k in h}
    if from_header and "from" not in lower:
        h["From"] = from_header
    if subject is not None and "subject" not in lower:
        h["Subject"] = subject
    if message_id and "message-id" not in lower:
        h["Message-ID"] = message_id
    mail = _from_headers(h, ())
    if subject is not None and "subject" in lower and not mail.subject:
        mail.subject = _collapse(subject)
    mail.text = (text or "").replace("\r\n", "\n").strip()
    if html_body:
        mail.html = sanitise_html(html_body)
        if not mail.text:
            mail.text = clean_html_text(mail.html)
    taken: set[str] = set()
    mail.attachments = [
        Attachment(_unique(a.filename or TYPE_NAMES.get(a.content_type, "file"), taken),
                   a.content_type, a.data, a.content_id, a.inline)
        for a in attachments
    ]  # fmt: skip
    ctype = next((v for k, v in h.items() if k.lower() == "content-type"), "")
    report = ctype.lower().startswith("multipart/report")
    mail.loop_signal = loop_signal(h, mail.subject or "", mail.from_email, report)
    mail.sha256 = hashlib.sha256(digest_source).hexdigest()
    mail.size = len(digest_source)
    return mail


def parse_header_block(block: str) -> dict[str, str]:
    """``Name: value`` lines (folded or not) → the first value of each header."""
    msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(
        block.encode("utf-8", "surrogateescape") + b"\r\n\r\n", headersonly=True
    )
    out: dict[str, str] = {}
    for key, value in msg._headers:
        out.setdefault(key, _unfold(value) if isinstance(value, str) else str(value))
    return out
