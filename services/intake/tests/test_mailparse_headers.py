"""The parser's per-parse header cache reads every part exactly as ``policy.default`` does."""

from email import policy
from email.parser import BytesParser

import pytest

from intake import mailparse
from tests import corpus


def _headers(msg) -> list[tuple]:
    return [
        (
            part.get_content_type(),
            part.get_params(),
            part.get_filename(),
            part.get_content_charset(),
            part.get_boundary(),
        )
        for part in msg.walk()
    ]


def _reading(msg) -> list[tuple]:
    """Headers, decoded payload and defects (decoding may add defects, so read once)."""
    out = []
    for part, headers in zip(msg.walk(), _headers(msg), strict=True):
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        out.append((headers, payload, sorted(type(d).__name__ for d in part.defects)))
    return out


@pytest.mark.parametrize("path", corpus.FILES, ids=[corpus.name(p) for p in corpus.FILES])
def test_the_cached_policy_reads_each_part_as_the_default_policy(path):
    raw = path.read_bytes()
    cached = mailparse._parser().parsebytes(raw)
    default = BytesParser(policy=policy.default).parsebytes(raw)

    assert _reading(cached) == _reading(default)
    assert _headers(cached) == _headers(default)  # a second read hits the cache


def test_the_header_cache_lives_for_one_parse_only():
    a, b = mailparse._parser(), mailparse._parser()

    assert a.parser.policy is not b.parser.policy
    assert a.parser.policy._header_cache is not b.parser.policy._header_cache


def test_same_header_value_in_two_parts_gives_each_its_own_reading():
    raw = (
        b"From: a@example.com\r\nSubject: two\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b'--b\r\nContent-Type: text/plain; charset="gbk"\r\n\r\n'
        + "你好".encode("gbk")
        + b'\r\n--b\r\nContent-Type: text/plain; charset="gbk"\r\n'
        b'Content-Disposition: attachment; filename="a.txt"\r\n\r\n'
        + "再见".encode("gbk")
        + b"\r\n--b--\r\n"
    )
    mail = mailparse.parse(raw)

    assert mail.text == "你好"
    assert [(a.filename, a.data) for a in mail.attachments] == [("a.txt", "再见".encode("gbk"))]
