import pytest

pytest_plugins = ["shared.fixtures"]


@pytest.fixture(scope="session")
def service_name() -> str:
    return "notify"
