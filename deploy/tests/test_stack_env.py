"""deploy/local/stack.py: the environment the stack's processes run with."""

from pathlib import Path

import stack


def config(var: Path) -> stack.Config:
    return stack.Config(offset=2100, var=var, only=stack.NAMES, timeout=30.0)


def test_stored_files_live_with_the_stacks_state_unless_the_caller_says_where(tmp_path):
    default = stack.service_env(config(tmp_path / "bench"), {"PATH": "/usr/bin"})
    chosen = stack.service_env(
        config(tmp_path / "bench"), {"AFTERCARE_ATTACHMENTS_DIR": "/srv/aftercare/files"}
    )

    assert default["AFTERCARE_ATTACHMENTS_DIR"] == str(tmp_path / "bench" / "attachments")
    assert default["PATH"] == "/usr/bin"
    assert chosen["AFTERCARE_ATTACHMENTS_DIR"] == "/srv/aftercare/files"
