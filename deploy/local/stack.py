"""Run the local Aftercare stack: the five services and the nginx gateway (DESIGN §2).

    stack.py up       foreground with prefixed logs; Ctrl-C or SIGTERM stops everything
    stack.py start    background: pid files and logs under the var dir; waits until ready
    stack.py stop     stops what `start` (or an `up` that was killed) left running
    stack.py status   what runs, on which port, and whether it answers
    stack.py clean    stop, then remove the var dir

`--only NAME[,NAME]` acts on some processes (intake dispatch sla-timer notify kb gateway).
Environment: AFTERCARE_PORT_OFFSET (0), AFTERCARE_VAR_DIR (<repo>/var), AFTERCARE_START_TIMEOUT
(60 s), AFTERCARE_GATEWAY_MAX_BODY (10m), AFTERCARE_GATEWAY_RATE (3000r/s),
AFTERCARE_GATEWAY_BURST (6000); the rest, AFTERCARE_ROLE included, passes through to the services.
Standard library only; run it with .venv/bin/python.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import gateway
from demo import EXAMPLE_TICKET

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv" / "bin"
SERVICES = {
    "intake": ("intake", 8101),
    "dispatch": ("dispatch", 8102),
    "sla-timer": ("sla_timer", 8103),
    "notify": ("notify", 8104),
    "kb": ("kb", 8105),
}
NAMES = (*SERVICES, "gateway")
GATEWAY_PORT = 8080
# Keep-alive outlasts nginx's idle upstream connections (60 s), so nginx never reuses a
# connection uvicorn is closing (a spurious 502).
UVICORN_FLAGS = (  # noqa: SIM905 -- one readable command line
    "--factory --host 127.0.0.1 --no-access-log --loop uvloop --http httptools "
    "--timeout-keep-alive 75 --timeout-graceful-shutdown 10"
).split()
COLOURS = (36, 33, 35, 32, 34, 31, 90)
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
_print_lock = threading.Lock()


@dataclass(frozen=True)
class Config:
    offset: int
    var: Path
    only: tuple[str, ...]
    timeout: float

    def port(self, name: str) -> int:
        return self.offset + (GATEWAY_PORT if name == "gateway" else SERVICES[name][1])

    def probe_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}/{'healthz' if name == 'gateway' else 'readyz'}"

    def pid_file(self, name: str) -> Path:
        return self.var / "run" / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.var / "log" / f"{name}.log"


def load_config(only: str) -> Config:
    names = tuple(n for n in NAMES if n in only.split(",")) if only else NAMES
    if unknown := set(filter(None, only.split(","))) - set(NAMES):
        sys.exit(f"stack: unknown process {', '.join(sorted(unknown))}; known: {' '.join(NAMES)}")
    var = Path(os.environ.get("AFTERCARE_VAR_DIR") or ROOT / "var").resolve()
    offset = int(os.environ.get("AFTERCARE_PORT_OFFSET", "0"))
    return Config(offset, var, names, float(os.environ.get("AFTERCARE_START_TIMEOUT", "60")))


def say(text: str, name: str | None = "aftercare", colour: int = 1) -> None:
    """Print lines prefixed with `name |` (coloured on a terminal); name None prints them bare."""
    tty = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    prefix = "" if name is None else f"{name:>9} | "
    if prefix and tty:
        prefix = f"\033[{colour}m{prefix[:-1]}\033[0m "
    with _print_lock:
        sys.stdout.write("".join(prefix + line + "\n" for line in text.splitlines() or [""]))
        sys.stdout.flush()


# ---- processes ----------------------------------------------------------------------------


def command(cfg: Config, name: str) -> list[str]:
    if name == "gateway":
        return gateway.command(cfg.var / "gateway")
    app = f"{SERVICES[name][0]}.main:create_app"
    return [str(VENV / "uvicorn"), app, "--port", str(cfg.port(name)), *UVICORN_FLAGS]


def service_env(cfg: Config, environ: dict[str, str]) -> dict[str, str]:
    """The environment of the stack's processes: the caller's, with the files the services
    store kept with the rest of the stack's state (``<var>/attachments``) unless it says where."""
    env = {**environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("AFTERCARE_ATTACHMENTS_DIR", str(cfg.var / "attachments"))
    return env


def spawn(cfg: Config, name: str, out: object) -> subprocess.Popen:
    # Own session = own process group: stop signals the whole group, and a terminal's
    # Ctrl-C reaches only `up`, which then stops the children in order.
    proc = subprocess.Popen(
        command(cfg, name),
        cwd=ROOT,
        env=service_env(cfg, dict(os.environ)),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cfg.pid_file(name).write_text(f"{proc.pid} {start_time(proc.pid)}\n")
    return proc


def start_time(pid: int) -> str | None:
    """Kernel start time of pid, so a pid file never matches a recycled pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def running_pid(cfg: Config, name: str) -> int | None:
    try:
        pid, started = cfg.pid_file(name).read_text().split()
    except (OSError, ValueError):
        return None
    return int(pid) if start_time(int(pid)) == started and group_members(int(pid)) else None


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def stop_groups(groups: dict[str, int], grace: float = 15.0) -> list[str]:
    """SIGTERM each group, SIGKILL what is left after `grace` seconds; names still alive."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in groups.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 3.0)
        while time.monotonic() < deadline and any(map(group_members, groups.values())):
            time.sleep(0.1)
        groups = {n: g for n, g in groups.items() if group_members(g)}
        if not groups:
            break
    return list(groups)


def answers(url: str) -> bool:
    try:
        with NO_PROXY.open(url, timeout=2) as response:
            return response.status == 200
    except OSError:  # URLError, HTTPError (503 while not ready), refused, timeout
        return False


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_ready(cfg: Config, procs: dict[str, subprocess.Popen]) -> tuple[str, str] | None:
    """None when every process answers; else (name, reason) of the first failure."""
    pending, deadline = set(procs), time.monotonic() + cfg.timeout
    while pending:
        for name in sorted(pending):
            if (code := procs[name].poll()) is not None:
                return name, f"exited with code {code} while starting"
            if answers(cfg.probe_url(name)):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            name = sorted(pending)[0]
            return name, f"not ready after {cfg.timeout:.0f} s ({cfg.probe_url(name)})"
        time.sleep(0.2)
    return None


def prepare(cfg: Config) -> subprocess.Popen | None:
    """Check the ports; for the gateway, write its files and start the OpenAPI merge if due."""
    for sub in ("run", "log", "gateway"):
        (cfg.var / sub).mkdir(parents=True, exist_ok=True)
    (cfg.var / ".aftercare-var").touch()  # lets `clean` know this dir is ours to delete
    if busy := [f"{n} :{cfg.port(n)}" for n in cfg.only if not port_free(cfg.port(n))]:
        sys.exit(f"stack: port in use: {', '.join(busy)} (another stack? AFTERCARE_PORT_OFFSET)")
    if "gateway" not in cfg.only:
        return None
    ports = {SERVICES[n][0] if n in SERVICES else n: cfg.port(n) for n in NAMES}
    for warning in gateway.render(cfg.var / "gateway", ports):
        say(f"warning: {warning}")
    return gateway.start_openapi_merge(cfg.var / "gateway", cfg.log_file("openapi"))


def finish_openapi_merge(cfg: Config, merge: subprocess.Popen | None) -> None:
    if merge and not gateway.finish_openapi_merge(cfg.var / "gateway", merge, cfg.timeout):
        log = cfg.log_file("openapi")
        say(f"warning: the combined OpenAPI is incomplete; {log}:\n{tail(log, 5)}")


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# ---- commands -----------------------------------------------------------------------------


def cmd_start(cfg: Config) -> int:
    running = {n: pid for n in cfg.only if (pid := running_pid(cfg, n))}
    if len(running) == len(cfg.only):
        say(f"already running: {' '.join(running)}")
        return 0
    if running:
        say(f"stopping the leftovers of an earlier run: {' '.join(running)}")
        cmd_stop(cfg)
    merge = prepare(cfg)
    procs = {}
    for name in cfg.only:
        with cfg.log_file(name).open("wb") as log:
            procs[name] = spawn(cfg, name, log)
    if failure := wait_ready(cfg, procs):
        name, reason = failure
        say(f"{name} {reason}; the last lines of {cfg.log_file(name)}:")
        say(tail(cfg.log_file(name)), name)
        if merge:
            merge.kill()
        cmd_stop(cfg)
        return 1
    finish_openapi_merge(cfg, merge)
    say(
        f"ready: {' '.join(cfg.only)}; gateway http://127.0.0.1:{cfg.port('gateway')}, "
        f"logs in {cfg.var / 'log'}"
    )
    return 0


def cmd_stop(cfg: Config) -> int:
    groups = {n: pid for n in cfg.only if (pid := running_pid(cfg, n))}
    left = stop_groups(groups)
    # Dead is not gone until the reaper (init, since `start` exited) collects them: wait a
    # little, so that right after `stop` no pid of the stack exists at all.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in groups.values()):
        time.sleep(0.05)
    for name in cfg.only:
        if name not in left:
            cfg.pid_file(name).unlink(missing_ok=True)
    if left:
        say(f"still running after SIGKILL: {' '.join(left)}")
        return 1
    say(f"stopped: {' '.join(groups)}" if groups else "nothing was running")
    return 0


def cmd_status(cfg: Config) -> int:
    all_ready = True
    for name in cfg.only:
        pid = running_pid(cfg, name)
        state = "stopped"
        if pid:
            state = "ready" if answers(cfg.probe_url(name)) else "not ready"
        all_ready &= state == "ready"
        say(f"{name:<10} {state:<17} pid {pid or '-':<8} http://127.0.0.1:{cfg.port(name)}")
    return 0 if all_ready else 3


def cmd_clean(cfg: Config) -> int:
    code = cmd_stop(cfg)
    if cfg.var.exists() and (cfg.var == ROOT / "var" or (cfg.var / ".aftercare-var").exists()):
        shutil.rmtree(cfg.var)
        say(f"removed {cfg.var}")
    return code


def pump(name: str, colour: int, stream: object) -> None:
    for raw in iter(stream.readline, b""):
        say(raw.decode(errors="replace").rstrip("\n"), name, colour)


def helper(*args: str) -> subprocess.CompletedProcess:
    argv = [str(VENV / "python"), *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)


def banner(cfg: Config) -> None:
    url = f"http://127.0.0.1:{cfg.port('gateway')}"
    demo = helper(str(Path(__file__).with_name("demo.py")), "--gateway", url)
    say((demo.stdout + demo.stderr).strip(), "demo", COLOURS[-1])
    made = helper("-m", "shared.auth", "token", "--role", "agent", "--sub", "demo-agent")
    token = made.stdout.strip().splitlines()[-1] if made.returncode == 0 and made.stdout else ""
    export = f"export TOKEN={token}"
    if not token:
        say(f"no demo token: shared.auth failed: {made.stderr.strip()[-300:]}")
        export = "export TOKEN=$(make -s token ROLE=agent SUB=demo-agent | tail -n 1)"
    body = json.dumps(EXAMPLE_TICKET, separators=(",", ":"))
    lines = [
        f"\nAftercare is up: {url}   API docs: {url}/docs   Ctrl-C stops it.",
        f"Logs follow, prefixed by process; access log: {cfg.var / 'gateway' / 'access.log'}\n",
        export,
        f'curl -sS -X POST {url}/v1/tickets -H "Authorization: Bearer $TOKEN" '
        f"-H 'Content-Type: application/json' -d '{body}'\n",
    ]
    say("\n".join(lines), None)  # bare lines, so they paste into a shell as they are


def cmd_up(cfg: Config) -> int:
    if running := [n for n in cfg.only if running_pid(cfg, n)]:
        sys.exit(f"stack: already running in the background: {' '.join(running)} (make stop)")
    merge = prepare(cfg)

    def terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: `&` ignores it
        signal.signal(signum, terminate)
    procs: dict[str, subprocess.Popen] = {}
    try:
        for index, name in enumerate(cfg.only):
            procs[name] = spawn(cfg, name, subprocess.PIPE)
            threading.Thread(
                target=pump, args=(name, COLOURS[index], procs[name].stdout), daemon=True
            ).start()
        if failure := wait_ready(cfg, procs):
            say(f"{failure[0]} {failure[1]}; stopping the stack")
            return 1
        finish_openapi_merge(cfg, merge)
        banner(cfg)
        while True:
            for name, proc in procs.items():
                if (code := proc.poll()) is not None:
                    how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
                    say(f"{name} {how} unexpectedly; stopping the stack")
                    return 1
            time.sleep(0.3)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup short
        if merge and merge.poll() is None:
            merge.kill()
        left = stop_groups({n: p.pid for n, p in procs.items()})
        for name, proc in procs.items():
            if name not in left:
                proc.wait()
                cfg.pid_file(name).unlink(missing_ok=True)
        say(f"still running: {' '.join(left)}" if left else "stopped")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "start", "stop", "status", "clean"))
    parser.add_argument("--only", default="", help="comma-separated process names")
    args = parser.parse_args()
    cfg = load_config(args.only)
    commands = {"up": cmd_up, "start": cmd_start, "stop": cmd_stop, "status": cmd_status}
    return {**commands, "clean": cmd_clean}[args.command](cfg)


if __name__ == "__main__":
    sys.exit(main())
