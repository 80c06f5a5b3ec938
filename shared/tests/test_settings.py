import pytest
from pydantic import ValidationError

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service = "intake"
    db_schema = "intake"


def test_defaults_log_in_as_the_services_own_role():
    settings = IntakeSettings(_env_file=None)

    assert settings.libpq_database_url().startswith("postgresql://aftercare_intake:")
    assert settings.async_database_url().startswith("postgresql+asyncpg://aftercare_intake:")
    assert settings.queue == "intake"


def test_a_url_with_a_user_is_used_as_given():
    settings = IntakeSettings(database_url="postgresql://ops:pw@db.internal:6432/aftercare")

    assert settings.libpq_database_url() == "postgresql://ops:pw@db.internal:6432/aftercare"


def test_production_refuses_development_secrets():
    with pytest.raises(ValidationError) as refused:
        IntakeSettings(env="production")

    message = str(refused.value)
    assert "AFTERCARE_JWT_SECRET" in message
    assert "AFTERCARE_DB_PASSWORD" in message
    assert "guest" in message


def test_production_accepts_real_secrets():
    settings = IntakeSettings(
        env="production",
        jwks_url="https://login.example.com/.well-known/jwks.json",
        webhook_secret="a-real-webhook-secret",
        database_url="postgresql://intake:s3cret@db:5432/aftercare",
        amqp_url="amqp://aftercare:s3cret@mq:5672/",
    )

    assert settings.env == "production"
