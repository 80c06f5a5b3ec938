"""shared.testing: what isolates one test run."""

from pathlib import Path

from shared.services import REPO_ROOT
from shared.testing import TestRun


async def test_a_run_stores_its_files_apart_and_its_teardown_removes_them():
    run, other = TestRun.from_environment(), TestRun.from_environment()
    attachments = Path(run.env()["AFTERCARE_ATTACHMENTS_DIR"])
    stored = attachments / "ticket" / "file"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"%PDF")

    await run.teardown()

    assert not attachments.is_relative_to(REPO_ROOT)
    assert attachments != Path(other.env()["AFTERCARE_ATTACHMENTS_DIR"])
    assert not run.files.exists()
