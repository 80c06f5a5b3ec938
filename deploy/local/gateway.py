"""The gateway's files under <var>/gateway, rendered from deploy/gateway/ (see its README).

stack.py calls these before it starts nginx. Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "deploy" / "gateway"
PYTHON = ROOT / ".venv" / "bin" / "python"
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
PLACEHOLDER_OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Aftercare API (being built)", "version": "1"},
    "paths": {},
}


def nginx() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def command(gw: Path) -> list[str]:
    """nginx in the foreground, everything under gw; errors before the config loads to stderr."""
    return [nginx(), "-p", f"{gw}/", "-c", f"{gw}/nginx.conf", "-e", "stderr", "-g", "daemon off;"]


def setting(name: str, default: str, pattern: str) -> str:
    value = os.environ.get(name, default)
    if not re.fullmatch(pattern, value):  # it is pasted into nginx.conf
        raise SystemExit(f"stack: {name}={value!r} does not match {pattern}")
    return value


def fill(template: Path, out: Path, values: dict[str, str]) -> None:
    def value(match: re.Match[str]) -> str:
        if match[1] not in values:
            raise SystemExit(f"stack: {template} uses {{{{ {match[1]} }}}}, which has no value")
        return values[match[1]]

    out.write_text(re.sub(r"\{\{ *(\w+) *\}\}", value, template.read_text()))


def swagger_ui_dir() -> str:
    found = subprocess.run(
        [PYTHON, "-c", "import swagger_ui_bundle; print(swagger_ui_bundle.swagger_ui_path)"],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() if found.returncode == 0 else ""


def render(gw: Path, ports: dict[str, int]) -> list[str]:
    """Write nginx.conf, the docs page and a placeholder openapi.json; return warnings.

    `ports` maps gateway, intake, dispatch, sla_timer, notify and kb to their ports.
    """
    for sub in [*(f"tmp/{d}" for d in TEMP_DIRS), "docs"]:
        (gw / sub).mkdir(parents=True, exist_ok=True)
    # Every compiled-in module creates its temp dir at start, under /var/lib/nginx unless told.
    flags = subprocess.run([nginx(), "-V"], capture_output=True, text=True).stderr
    extra = [m for m in TEMP_DIRS[2:] if f"--without-http_{m}_module" not in flags]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 16384 if hard == resource.RLIM_INFINITY else min(16384, hard)
    swagger = swagger_ui_dir()
    values = {
        # As root, workers stay root: they read .venv (perhaps under /root) and write var/.
        "user_directive": "user root;" if os.geteuid() == 0 else "",
        "rlimit_nofile": str(nofile),
        "worker_connections": str(min(4096, nofile // 2)),
        "gateway_dir": str(gw),
        "extra_temp_paths": "\n".join(f"    {m}_temp_path {gw}/tmp/{m};" for m in extra),
        "swagger_ui_dir": swagger or str(gw / "docs"),
        "max_body": setting("AFTERCARE_GATEWAY_MAX_BODY", "10m", r"\d+[kKmMgG]?"),
        "rate": setting("AFTERCARE_GATEWAY_RATE", "3000r/s", r"\d+r/[sm]"),
        "burst": setting("AFTERCARE_GATEWAY_BURST", "6000", r"\d+"),
        **{f"{name}_port": str(port) for name, port in ports.items()},
    }
    fill(TEMPLATES / "nginx.conf.template", gw / "nginx.conf", values)
    page = {"title": "Aftercare API", "openapi_url": "/openapi.json"}
    fill(TEMPLATES / "docs.html.template", gw / "docs" / "index.html", page)
    if not (gw / "openapi.json").exists():
        (gw / "openapi.json").write_text(json.dumps(PLACEHOLDER_OPENAPI))
    if not swagger:
        return ["swagger_ui_bundle is not in .venv: /docs will not render"]
    if (version := re.search(r"swagger-ui-(\d+)\.", swagger)) and int(version[1]) < 5:
        # FastAPI writes OpenAPI 3.1, which Swagger UI reads from version 5 on.
        return [
            f"{Path(swagger).name} cannot render OpenAPI 3.1, so /docs shows an error; "
            "swagger-ui-bundle-v2 (same module, Swagger UI 5) can"
        ]
    return []


def start_openapi_merge(gw: Path, log: Path) -> subprocess.Popen | None:
    """Rebuild the combined OpenAPI in the background, unless no source changed since."""
    stamp = gw / "openapi.stamp"
    sources = [*ROOT.glob("services/*/*/**/*.py"), *ROOT.glob("shared/shared/**/*.py")]
    if stamp.exists() and all(p.stat().st_mtime < stamp.stat().st_mtime for p in sources):
        return None
    stamp.unlink(missing_ok=True)
    argv = [PYTHON, TEMPLATES / "openapi_merge.py", "--out", gw / "openapi.json"]
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def finish_openapi_merge(gw: Path, merge: subprocess.Popen, timeout: float) -> bool:
    try:
        code = merge.wait(timeout=max(timeout, 5))
    except subprocess.TimeoutExpired:
        merge.kill()
        code = merge.wait()
    if code == 0:
        (gw / "openapi.stamp").touch()
    return code == 0
