"""Authentication and authorisation (DESIGN §7).

Bearer JWTs: HS256 with ``AFTERCARE_JWT_SECRET`` in development, RS256 against the keys at
``AFTERCARE_JWKS_URL`` in production. The algorithm is fixed by configuration, never taken from
the token's header, so ``alg: none`` and algorithm-confusion tokens are refused; expiry, issuer
and audience are always checked. Inbound webhooks may be signed instead:
``X-Aftercare-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
import jwt
from fastapi import Depends, Request

from shared.http import Problem
from shared.settings import ServiceSettings

Role = Literal["customer", "agent", "manager", "admin", "integration"]
ROLES: tuple[Role, ...] = ("customer", "agent", "manager", "admin", "integration")
STAFF: tuple[Role, ...] = ("agent", "manager", "admin")
SIGNATURE_WINDOW_SECONDS = 300


class Unauthenticated(Problem):
    status = 401
    type = "unauthenticated"
    title = "Authentication required"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="aftercare"'}


class Forbidden(Problem):
    status = 403
    type = "forbidden"
    title = "Not allowed for this role"


class BadSignature(Problem):
    status = 401
    type = "bad-signature"
    title = "Webhook signature refused"


@dataclass(frozen=True)
class Actor:
    """Who is calling: the token's subject, role and (for customers) organisation."""

    sub: str
    role: Role
    org: uuid.UUID | None = None
    name: str | None = None

    @property
    def is_customer(self) -> bool:
        return self.role == "customer"

    def may_see_org(self, org: uuid.UUID | None) -> bool:
        """Customers see only their own organisation; every other role sees all."""
        return not self.is_customer or (org is not None and org == self.org)


class JwksCache:
    """RS256 public keys from a JWKS URL, refreshed on an unknown key id (at most every 30 s)."""

    def __init__(self, url: str, ttl: float = 600.0) -> None:
        self.url = url
        self.ttl = ttl
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0

    async def key(self, kid: str | None) -> Any:
        now = time.monotonic()
        stale = now - self._fetched > self.ttl
        unknown = kid not in self._keys and now - self._fetched > 30
        if stale or unknown:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(self.url)
                response.raise_for_status()
            jwks = jwt.PyJWKSet.from_dict(response.json())
            self._keys = {k.key_id: k.key for k in jwks.keys}
            self._fetched = now
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        if kid not in self._keys:
            raise Unauthenticated("token signed with an unknown key")
        return self._keys[kid]


LEEWAY_SECONDS = 30
VERIFIED_CACHE_SIZE = 4096
# Tokens that passed every check, with the key and rules they passed under. A client sends the
# same token with every request until it expires; checking the signature again each time was
# about a tenth of a small request's CPU. Of the checks, only expiry can turn a valid token
# invalid later (not-before and issued-at only become valid), so a hit checks expiry again.
_verified: OrderedDict[tuple[Any, ...], tuple[Actor, float, Any]] = OrderedDict()


def decode_token(token: str, *, key: Any, algorithm: str, issuer: str, audience: str) -> Actor:
    """Verifies signature, algorithm, expiry, issuer and audience; returns the actor."""
    # An RSA key object is not hashable: it is known by its identity, and the entry holds the
    # object so that identity cannot pass to another key while the entry lives.
    key_id = key if isinstance(key, str | bytes) else (type(key).__name__, id(key))
    cache_key = (token, key_id, algorithm, issuer, audience)
    hit = _verified.get(cache_key)
    if hit is not None:
        actor, exp, _ = hit
        if time.time() > exp + LEEWAY_SECONDS:
            del _verified[cache_key]
            raise Unauthenticated("token expired")
        _verified.move_to_end(cache_key)
        return actor
    actor, exp = _verify(token, key=key, algorithm=algorithm, issuer=issuer, audience=audience)
    _verified[cache_key] = (actor, exp, key)
    if len(_verified) > VERIFIED_CACHE_SIZE:
        _verified.popitem(last=False)
    return actor


def _verify(
    token: str, *, key: Any, algorithm: str, issuer: str, audience: str
) -> tuple[Actor, float]:
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iss", "aud", "sub"]},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token expired")
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated(f"invalid token: {exc}")
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthenticated(f"token role must be one of {', '.join(ROLES)}")
    org = claims.get("org")
    try:
        org_id = uuid.UUID(org) if org else None
    except (ValueError, TypeError):
        raise Unauthenticated("token org claim is not a uuid")
    if role == "customer" and org_id is None:
        raise Unauthenticated("a customer token needs an org claim")
    actor = Actor(sub=str(claims["sub"]), role=role, org=org_id, name=claims.get("name"))
    return actor, float(claims["exp"])


def issue_token(
    settings: ServiceSettings,
    *,
    role: Role,
    sub: str,
    org: str | uuid.UUID | None = None,
    name: str | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    """A development token signed with the HS256 secret."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if org:
        claims["org"] = str(org)
    if name:
        claims["name"] = name
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


async def authenticate(request: Request) -> Actor:
    """FastAPI dependency: the verified :class:`Actor` of the request."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <token>")
    settings: ServiceSettings = request.app.state.settings
    if settings.jwks_url:
        cache: JwksCache = request.app.state.jwks
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid token: {exc}")
        key, algorithm = await cache.key(kid), "RS256"
    else:
        key, algorithm = settings.jwt_secret.get_secret_value(), "HS256"
    return decode_token(
        token.strip(),
        key=key,
        algorithm=algorithm,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


ActorDep = Annotated[Actor, Depends(authenticate)]


def require_role(*roles: Role) -> Callable[..., Any]:
    """Dependency factory: the actor, if its role is one of ``roles``; otherwise 403."""

    async def guard(actor: ActorDep) -> Actor:
        if actor.role not in roles:
            raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}")
        return actor

    return guard


def sign_webhook(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Aftercare-Signature`` value a gateway sends with ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_webhook_signature(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    now: float | None = None,
    window: int = SIGNATURE_WINDOW_SECONDS,
) -> str:
    """Checks an ``X-Aftercare-Signature`` header; returns the signature (for replay checks).

    Refuses a missing or malformed header, a timestamp outside ``window`` seconds of now, and a
    MAC that does not match (compared in constant time). Replays inside the window are the
    caller's to refuse, by remembering the returned signature until the window has passed.
    """
    if not header:
        raise BadSignature("missing X-Aftercare-Signature")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    try:
        t = int(fields["t"][0])
    except (KeyError, ValueError, IndexError):
        raise BadSignature("signature header needs t=<unix time>")
    current = time.time() if now is None else now
    if abs(current - t) > window:
        raise BadSignature(f"signature timestamp outside the {window} s window")
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    for candidate in fields.get("v1", []):
        if hmac.compare_digest(candidate, expected):
            return candidate
    raise BadSignature("signature does not match the body")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.auth")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print a signed development token")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--sub", required=True)
    token.add_argument("--org")
    token.add_argument("--name")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds")
    args = parser.parse_args()
    if args.role == "customer" and not args.org:
        parser.error("a customer token needs --org")
    print(
        issue_token(
            ServiceSettings(),
            role=args.role,
            sub=args.sub,
            org=args.org,
            name=args.name,
            ttl_seconds=args.ttl,
        )
    )


if __name__ == "__main__":
    main()
