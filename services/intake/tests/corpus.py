"""The inbound mail corpus (../shared/corpus/mail) and its expected values."""

import base64
from pathlib import Path

import yaml

from shared.services import REPO_ROOT

CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "mail"
FILES = sorted(
    [*CORPUS.glob("zammad/**/*.box"), *CORPUS.glob("zammad/smime/*.eml")],
    key=lambda p: str(p),
)

# Expected values that are themselves wrong. The first six are listed in the corpus README;
# the rest were found by this parser and are argued here.
WRONG = {
    "mail018": {"subject"},  # undecoded UTF-7 in the expected subject
    "mail046": {"from_name"},  # mojibake of a GBK display name
    "mail059": {"from_name"},  # "LTD": a fragment of the display name
    "mail065": {"from_name"},  # "=20Andreas?=": a half-decoded encoded word
    "mail076": {"from_email", "from_name"},  # the address keeps a stray ">"
    "mail117": {"from_email"},  # an encoded word half-decoded into the address
    # The quotes of a quoted display name (the header has no address) are not the address.
    "mail035": {"from_email"},
    # Zammad renders the NFD accents of a Mac file name as mojibake ("eìcran").
    "mail064": {"attachments"},
    # Zammad writes U+FFFD for the raw Latin-1 byte of "Wölbung"; it decodes as Windows-1252.
    "mail073": {"attachments"},
    # The display name repeats the bare address; the part without Content-Type is text/plain
    # (RFC 2045 §5.2), hence the body, not an unnamed file.
    "mail087": {"from_name", "attachments"},
    # RFC 2047 §5: an encoded word is not allowed in an addr-spec; decoding it would let a
    # sender choose the address the system sees, so the address is kept as written.
    "mail118": {"from_email"},
}


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor(
    "!ruby/hash:", lambda loader, s, n: loader.construct_mapping(n, deep=True)
)
_Loader.add_constructor("!binary", lambda loader, n: base64.b64decode(loader.construct_scalar(n)))


def name(path: Path) -> str:
    return path.name.split(".", 1)[0]


def expected(path: Path) -> dict | None:
    yml = path.with_suffix(".yml")
    if not yml.exists():
        return None
    data = yaml.load(yml.read_bytes(), Loader=_Loader)
    return {
        "from_email": data.get("from_email") or "",
        "from_name": data.get("from_display_name") or "",
        "subject": data.get("subject"),
        "attachments": sorted(
            a["filename"]
            for a in data.get("attachments") or []
            if not a["preferences"].get("content-alternative")
        ),
    }


def collapse(value: str | None) -> str | None:
    return None if value is None else " ".join(value.split())


def mismatches(path: Path, sender: str, sender_name: str, subject, attachments) -> list[str]:
    """Fields that differ from the expected values, leaving out the known-wrong ones."""
    exp = expected(path)
    if exp is None:
        return []
    wrong = WRONG.get(name(path), set())
    out = []
    for key, got in (("from_email", sender), ("from_name", sender_name), ("subject", subject)):
        if key not in wrong and collapse(exp[key]) != collapse(got):
            out.append(f"{key}: expected {exp[key]!r}, got {got!r}")
    if "attachments" not in wrong and not set(exp["attachments"]) <= set(attachments):
        out.append(f"attachments: expected {exp['attachments']}, got {sorted(attachments)}")
    return out
