import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth import (
    BadSignature,
    JwksCache,
    Unauthenticated,
    decode_token,
    issue_token,
    sign_webhook,
    verify_webhook_signature,
)
from shared.settings import ServiceSettings

SECRET = "test-secret-that-is-long-enough-for-hs256"
SETTINGS = ServiceSettings(jwt_secret=SECRET)


def claims(**overrides) -> dict:
    now = int(time.time())
    base = {
        "sub": "eng-1",
        "role": "agent",
        "iss": "aftercare",
        "aud": "aftercare",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def decode(token: str, key=SECRET, algorithm="HS256"):
    return decode_token(
        token, key=key, algorithm=algorithm, issuer="aftercare", audience="aftercare"
    )


def test_a_token_issued_by_the_command_verifies():
    token = issue_token(
        SETTINGS, role="customer", sub="c-1", org="0195f2a0-0000-7000-8000-000000000001"
    )

    actor = decode(token)

    assert (actor.sub, actor.role, str(actor.org)) == (
        "c-1",
        "customer",
        "0195f2a0-0000-7000-8000-000000000001",
    )


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (
            jwt.encode(claims(), "another-secret-entirely-different-key", algorithm="HS256"),
            "signature",
        ),
        (jwt.encode(claims(exp=int(time.time()) - 3600), SECRET, algorithm="HS256"), "expired"),
        (jwt.encode(claims(aud="someone-else"), SECRET, algorithm="HS256"), "audience"),
        (jwt.encode(claims(iss="evil-issuer"), SECRET, algorithm="HS256"), "issuer"),
        (jwt.encode(claims(exp=None), SECRET, algorithm="HS256"), "exp"),
        (jwt.encode(claims(role="root"), SECRET, algorithm="HS256"), "role"),
        (jwt.encode(claims(role="customer"), SECRET, algorithm="HS256"), "org"),
        ("not-a-jwt", "invalid"),
    ],
)
def test_bad_tokens_are_refused(token, reason):
    with pytest.raises(Unauthenticated) as refused:
        decode(token)

    assert refused.value.status == 401


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused():
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}."

    with pytest.raises(Unauthenticated):
        decode(token)


def test_an_hs256_token_is_refused_where_rs256_is_expected():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), SECRET, algorithm="HS256")

    with pytest.raises(Unauthenticated):
        decode(token, key=private.public_key(), algorithm="RS256")


class _Jwks(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


async def test_rs256_tokens_verify_against_a_jwks_url():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    _Jwks.body = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()
    server = HTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cache = JwksCache(f"http://127.0.0.1:{server.server_port}/jwks.json")
        good = jwt.encode(claims(), private, algorithm="RS256", headers={"kid": "k1"})
        unknown = jwt.encode(claims(), private, algorithm="RS256", headers={"kid": "k9"})

        actor = decode(good, key=await cache.key("k1"), algorithm="RS256")

        assert actor.sub == "eng-1"
        with pytest.raises(Unauthenticated):
            await cache.key("k9")
        with pytest.raises(Unauthenticated):
            decode(
                unknown, key=rsa.generate_private_key(65537, 2048).public_key(), algorithm="RS256"
            )
    finally:
        server.shutdown()


def test_webhook_signature_round_trip():
    body = b'{"event":"newCall"}'
    header = sign_webhook("hook-secret", body, timestamp=1_800_000_000)

    assert verify_webhook_signature("hook-secret", header, body, now=1_800_000_100)


@pytest.mark.parametrize(
    ("header", "body", "now"),
    [
        (None, b"x", 1_800_000_000),
        ("v1=abc", b"x", 1_800_000_000),
        (sign_webhook("hook-secret", b"x", 1_800_000_000), b"y", 1_800_000_000),
        (sign_webhook("other-secret", b"x", 1_800_000_000), b"x", 1_800_000_000),
        (sign_webhook("hook-secret", b"x", 1_800_000_000), b"x", 1_800_000_301),
        (sign_webhook("hook-secret", b"x", 1_800_000_000), b"x", 1_799_999_600),
    ],
    ids=["missing", "no-timestamp", "body-changed", "wrong-secret", "too-late", "from-future"],
)
def test_bad_webhook_signatures_are_refused(header, body, now):
    with pytest.raises(BadSignature):
        verify_webhook_signature("hook-secret", header, body, now=now)


def test_a_verified_token_is_refused_once_it_expires(monkeypatch):
    token = jwt.encode(claims(exp=int(time.time()) + 60), SECRET, algorithm="HS256")
    assert decode(token).sub == "eng-1"
    assert decode(token).sub == "eng-1"  # remembered

    later = time.time() + 60 + 31  # past expiry and its leeway
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthenticated):
        decode(token)


def test_a_remembered_token_is_checked_again_under_another_key_or_audience():
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert decode(token).role == "agent"

    with pytest.raises(Unauthenticated):
        decode(token, key="a-rotated-secret-that-is-long-enough-for-hs256")
    with pytest.raises(Unauthenticated):
        decode_token(token, key=SECRET, algorithm="HS256", issuer="aftercare", audience="other")
