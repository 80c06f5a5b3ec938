"""Phone numbers in E.164, so a caller's number matches a contact however either was typed.

Chinese mobiles (138 0013 8000), landlines with an area code (010-6552 9988, 0755 8888 6666)
and international forms (+86 10 6552 9988, 0086…) all normalise to ``+861065529988`` style.
"""

from __future__ import annotations

import functools

import phonenumbers

DEFAULT_REGION = "CN"


class InvalidPhone(ValueError):
    pass


def normalise(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of ``raw``; raises :class:`InvalidPhone` when it is not a possible number."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{raw!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)  # every event of a call names the same number
def try_normalise(raw: str, region: str = DEFAULT_REGION) -> str | None:
    try:
        return normalise(raw, region)
    except InvalidPhone:
        return None
