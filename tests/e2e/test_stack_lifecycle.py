"""`make start` then `make stop` leaves no process behind."""

import os
import tempfile
from pathlib import Path

from tests.conftest import make


def alive(pid: int) -> bool:
    """Running and not a zombie waiting to be reaped."""
    try:
        stat = Path("/proc", str(pid), "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_make_stop_leaves_no_process_behind(stack):
    var_dir = tempfile.mkdtemp(prefix="aftercare-lifecycle-")
    offset = str(int(stack["env"]["AFTERCARE_PORT_OFFSET"]) + 500)
    env = {**stack["env"], "AFTERCARE_PORT_OFFSET": offset, "AFTERCARE_VAR_DIR": var_dir}
    started = make("start", env)
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
    pids = [int(p.read_text().split()[0]) for p in Path(var_dir, "run").glob("*.pid")]
    assert len(pids) == 6
    assert all(alive(p) for p in pids)

    stopped = make("stop", env)

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert [p for p in pids if alive(p)] == []
    assert list(Path(var_dir, "run").glob("*.pid")) == []
    leftovers = [d for d in os.listdir("/proc") if d.isdigit() and var_dir.encode() in _cmdline(d)]
    assert leftovers == []


def _cmdline(pid: str) -> bytes:
    try:
        return Path("/proc", pid, "cmdline").read_bytes()
    except OSError:
        return b""
