"""Configuration: environment variables with the prefix ``AFTERCARE_`` (DESIGN §2).

Every default works for the local stack. In production (``AFTERCARE_ENV=production``) the
validators refuse the development secrets, so a forgotten variable fails at start, not later.
"""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "aftercare-development-secret-change-me"
DEV_DB_PASSWORD = "aftercare-dev"
DEV_WEBHOOK_SECRET = "aftercare-development-webhook-secret"


class ServiceSettings(BaseSettings):
    """Settings every service shares; a service subclass sets ``service`` and ``db_schema``."""

    model_config = SettingsConfigDict(env_prefix="AFTERCARE_", extra="ignore")

    service: ClassVar[str] = "shared"
    db_schema: ClassVar[str] = "public"

    env: Literal["dev", "test", "production"] = "dev"
    role: Literal["api", "worker", "all"] = "all"
    log_level: str = "INFO"

    database_url: str = "postgresql://127.0.0.1:5432/aftercare"
    db_password: SecretStr = SecretStr(DEV_DB_PASSWORD)
    # Per process at most 12 connections, opened as needed and then kept: five services stay
    # well inside PostgreSQL's default 100 connections, with room for relays, scanners and an
    # operator. No overflow beyond the pool: SQLAlchemy closes an overflow connection as soon
    # as it is returned while the pool is full, so under more concurrent requests than the
    # pool holds every burst connected anew (a server process started and its caches warmed
    # each time). With 8 + 4, intake under 14 concurrent PBX events spent 8 % of its CPU in
    # asyncpg's connect and took 1.05 ms of CPU per event; with 12 + 0, 0.85-0.94 ms. A
    # request past the twelfth waits for a connection (db_pool_timeout) instead.
    db_pool_size: int = 12
    db_max_overflow: int = 0
    db_pool_timeout: float = 10.0
    # A ping before every checkout costs a round trip per transaction (about 0.4 ms of CPU
    # here). Without it, a connection the server dropped fails its first statement; that
    # failure is transient (a consumer requeues, an API answers 503 with Retry-After) and
    # SQLAlchemy then discards every pooled connection older than the failure.
    db_pool_pre_ping: bool = False

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    exchange: str = "aftercare.events"
    queue_prefix: str = ""
    consumer_prefetch: int = 256
    # Deliveries handled in one transaction (one commit for up to this many events), and how
    # many such batches run at once.
    consumer_batch_size: int = 64
    consumer_concurrency: int = 2
    # After the first delivery of a batch, wait up to this long for more before handling it:
    # one transaction and one ack for several events instead of one each, at the price of up
    # to this much latency per hop (0 handles at once). The wait ends early once the batch is
    # full or the prefetch window is (the broker sends no more until acks go back). Measured
    # on bench/ticket_flow, 0.05 against 0.02 cut the stack's CPU per ticket at 100/s from
    # about 16 ms to 13-14 ms, for about 10 ms more end-to-end latency at the median.
    consumer_linger_seconds: float = 0.05
    retry_delays: tuple[float, ...] = (1.0, 10.0, 60.0, 600.0)

    relay_batch_size: int = 200
    relay_poll_seconds: float = 1.0
    # After a wake-up, wait this long for more commits before locking a batch (0: at once).
    relay_linger_seconds: float = 0.01
    outbox_retention_hours: float = 72.0

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "aftercare"
    jwt_audience: str = "aftercare"
    jwks_url: str | None = None
    webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> ServiceSettings:
        if self.env != "production":
            return self
        problems = []
        if self.jwks_url is None and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
            problems.append(
                "AFTERCARE_JWT_SECRET is the development secret (or set AFTERCARE_JWKS_URL)"
            )
        if self.webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET:
            problems.append("AFTERCARE_WEBHOOK_SECRET is the development secret")
        if urlsplit(self.database_url).password is None and (
            self.db_password.get_secret_value() == DEV_DB_PASSWORD
        ):
            problems.append("AFTERCARE_DB_PASSWORD is the development password")
        if "guest:guest@" in self.amqp_url.get_secret_value():
            problems.append("AFTERCARE_AMQP_URL uses RabbitMQ's guest account")
        if problems:
            raise ValueError("refusing development secrets in production: " + "; ".join(problems))
        return self

    @property
    def db_role(self) -> str:
        return f"aftercare_{self.db_schema}"

    @property
    def queue(self) -> str:
        """The service's queue on the bus (DESIGN §4: named after the service)."""
        return f"{self.queue_prefix}{self.service}"

    def async_database_url(self) -> str:
        """SQLAlchemy URL for asyncpg, as the service's own role unless the URL names one."""
        return "postgresql+asyncpg://" + self.libpq_database_url().split("://", 1)[1]

    def libpq_database_url(self) -> str:
        """Plain ``postgresql://`` URL (asyncpg, psql) as the service's own role."""
        parts = urlsplit(self.database_url)
        if parts.username:
            return urlunsplit(("postgresql", *parts[1:]))
        host = parts.hostname or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        password = quote(self.db_password.get_secret_value(), safe="")
        netloc = f"{self.db_role}:{password}@{host}{port}"
        return urlunsplit(("postgresql", netloc, parts.path, parts.query, parts.fragment))

    @property
    def database_name(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/") or "aftercare"
