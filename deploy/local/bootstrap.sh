#!/usr/bin/env bash
# Prepares this machine for the Aftercare stack (DESIGN §2). Every step checks before it acts,
# so a second run only checks (a few seconds).
#
#   deploy/local/bootstrap.sh [STEP...]      default: all steps, in this order
#     packages   Debian packages: nginx, PostgreSQL, RabbitMQ (only what is missing)
#     postgres   PostgreSQL accepts connections (starts the local clusters if needed)
#     rabbitmq   RabbitMQ accepts AMQP connections (starts the local node if needed)
#     admin      the admin role of AFTERCARE_ADMIN_DATABASE_URL can log in over TCP
#     python     .venv from uv.lock (installs uv into var/tools if there is none)
#     db         provisioning (database, roles, schemas), then migrations of all services
#   deploy/local/bootstrap.sh infra          = packages postgres rabbitmq admin
#
# Environment: AFTERCARE_ADMIN_DATABASE_URL, AFTERCARE_DATABASE_URL, AFTERCARE_AMQP_URL
# (defaults below match the services' own).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"  # pg_ctlcluster, nginx and rabbitmq live in sbin

: "${AFTERCARE_ADMIN_DATABASE_URL:=postgresql://aftercare_admin:aftercare-admin@127.0.0.1:5432/postgres}"
: "${AFTERCARE_DATABASE_URL:=postgresql://127.0.0.1:5432/aftercare}"
: "${AFTERCARE_AMQP_URL:=amqp://guest:guest@127.0.0.1:5672/}"
export AFTERCARE_ADMIN_DATABASE_URL AFTERCARE_DATABASE_URL AFTERCARE_AMQP_URL
export PGCONNECT_TIMEOUT=5
VENV_PY="$ROOT/.venv/bin/python"
TOOLS="$ROOT/var/tools"
APT_UPDATED=

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'bootstrap: %s\n' "$*" >&2
  exit 1
}
is_root() { [[ $(id -u) -eq 0 ]]; }
have() { command -v "$1" >/dev/null 2>&1; }
is_local() { [[ $1 == 127.* || $1 == localhost || $1 == ::1 ]]; }
# shellcheck disable=SC2016 # $0 and $1 belong to the inner shell
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# wait_for SECONDS WHAT COMMAND... : retries COMMAND every half second.
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || die "$what did not come up within the time allowed"
    sleep 0.5
  done
}

urldecode() { printf '%b' "${1//%/\\x}"; }

# url_parts URL: sets url_user url_password url_host url_port (percent-decoded).
# Plain bash: on a fresh machine this runs before any Python is there.
url_parts() {
  local re='^[a-zA-Z][a-zA-Z0-9+.-]*://(([^:@/]*)(:([^@/]*))?@)?(\[[^]/]*\]|[^:/?]*)(:([0-9]+))?'
  [[ $1 =~ $re ]] || die "cannot parse URL '$1'"
  url_user=$(urldecode "${BASH_REMATCH[2]}")
  url_password=$(urldecode "${BASH_REMATCH[4]}")
  url_host=${BASH_REMATCH[5]:-127.0.0.1}
  url_host=${url_host#[}
  url_host=${url_host%]}
  url_port=${BASH_REMATCH[7]}
}

apt_install() {
  if ! is_root; then
    die "missing Debian packages: $*. Run, then retry:
  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y $*"
  fi
  if [[ -z $APT_UPDATED ]]; then
    say "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

step_packages() {
  local -a missing=()
  have python3 || missing+=(python3 python3-venv)
  have nginx || missing+=(nginx)
  if ! have psql || ! have pg_isready; then
    missing+=(postgresql-client)
  fi
  # A server is needed only when none answers on the configured address (it may be elsewhere).
  url_parts "$AFTERCARE_ADMIN_DATABASE_URL"
  if ! port_open "$url_host" "${url_port:-5432}" && ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    missing+=(postgresql)
  fi
  url_parts "$AFTERCARE_AMQP_URL"
  if ! port_open "$url_host" "${url_port:-5672}" && ! have rabbitmq-server; then
    missing+=(rabbitmq-server)
  fi
  if ((${#missing[@]})); then
    apt_install "${missing[@]}"
  fi
  say "packages: python3, nginx and the PostgreSQL and RabbitMQ tools are installed"
}

step_postgres() {
  url_parts "$AFTERCARE_ADMIN_DATABASE_URL"
  local host=$url_host port=${url_port:-5432} version cluster status
  if pg_isready -q -h "$host" -p "$port"; then
    say "postgres: accepting connections on $host:$port"
    return
  fi
  is_local "$host" || die "PostgreSQL at $host:$port does not answer (not local, so not started here)"
  if ! is_root && [[ $(id -un) != postgres ]]; then
    die "PostgreSQL is not running. Run, then retry:
  sudo pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start   (or: sudo service postgresql start)"
  fi
  if have pg_lsclusters; then
    if [[ -z $(pg_lsclusters -h) ]]; then
      version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
      say "postgres: creating cluster $version/main"
      pg_createcluster "$version" main
    fi
    while read -r version cluster _ status _; do
      if [[ $status != online* ]]; then
        # Commit times let bench/dispatch.py measure a decision to its commit; a server
        # already running is left as it is (the benchmark then says what it measured).
        if [[ -d /etc/postgresql/$version/$cluster/conf.d ]]; then
          echo "track_commit_timestamp = on" >/etc/postgresql/$version/$cluster/conf.d/aftercare.conf
        fi
        say "postgres: starting cluster $version/$cluster"
        pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start ||
          say "postgres: cluster $version/$cluster did not start (see /var/log/postgresql)"
      fi
    done < <(pg_lsclusters -h)
  else
    say "postgres: service postgresql start"
    service postgresql start
  fi
  wait_for 30 "PostgreSQL on $host:$port" pg_isready -q -h "$host" -p "$port"
  say "postgres: accepting connections on $host:$port"
}

step_rabbitmq() {
  url_parts "$AFTERCARE_AMQP_URL"
  local host=$url_host port=${url_port:-5672}
  # An open AMQP port is the fast check: RabbitMQ opens its listener last, once booted.
  if port_open "$host" "$port"; then
    say "rabbitmq: accepting connections on $host:$port"
    return
  fi
  is_local "$host" || die "RabbitMQ at $host:$port does not answer (not local, so not started here)"
  is_root || die "RabbitMQ is not running. Run, then retry:  sudo rabbitmq-server -detached"
  if rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
    say "rabbitmq: node is booting; waiting"
  else
    say "rabbitmq: starting (rabbitmq-server -detached)"
    rabbitmq-server -detached
  fi
  wait_for 60 "RabbitMQ on $host:$port" port_open "$host" "$port"
  say "rabbitmq: accepting connections on $host:$port"
}

admin_login() { psql -w -X -q -At "$AFTERCARE_ADMIN_DATABASE_URL" -c 'select 1' >/dev/null 2>&1; }

# Creates (or resets the password of) the admin role, as the postgres superuser: first over TCP
# (works with trust auth), then over the Unix socket with peer auth as the postgres OS user.
ensure_admin_role() {
  local sql
  sql="SELECT format('CREATE ROLE %I', :'user') WHERE NOT EXISTS
         (SELECT 1 FROM pg_roles WHERE rolname = :'user') \\gexec
ALTER ROLE :\"user\" WITH SUPERUSER LOGIN PASSWORD :'pw';"
  local -a vars=(-v ON_ERROR_STOP=1 -v "user=$url_user" -v "pw=$url_password")
  if psql -w -X -q -h "$url_host" -p "$url_port" -U postgres -d postgres "${vars[@]}" \
    <<<"$sql" >/dev/null 2>&1; then
    return 0
  fi
  is_root || return 1
  (cd / && runuser -u postgres -- psql -X -q -p "$url_port" -d postgres "${vars[@]}" <<<"$sql" >/dev/null)
}

# Lets the admin role log in with its password from loopback, ahead of any other rule.
allow_password_login() {
  local hba rules
  hba=$(cd / && runuser -u postgres -- psql -X -At -p "$url_port" -c 'SHOW hba_file')
  say "admin: allowing password logins for $url_user from loopback in $hba"
  rules=$(printf 'host all %s 127.0.0.1/32 scram-sha-256\nhost all %s ::1/128 scram-sha-256\n' \
    "$url_user" "$url_user")
  printf '%s\n%s\n' "$rules" "$(cat "$hba")" >"$hba.aftercare"
  cat "$hba.aftercare" >"$hba" # keeps the file's owner and mode
  rm -f "$hba.aftercare"
  (cd / && runuser -u postgres -- psql -X -q -p "$url_port" -c 'SELECT pg_reload_conf()' >/dev/null)
}

step_admin() {
  if admin_login; then
    say "admin: $AFTERCARE_ADMIN_DATABASE_URL logs in"
    return
  fi
  url_parts "$AFTERCARE_ADMIN_DATABASE_URL"
  url_port=${url_port:-5432}
  [[ -n $url_user && -n $url_password ]] || die "AFTERCARE_ADMIN_DATABASE_URL needs a user and a password"
  say "admin: creating role $url_user (SUPERUSER LOGIN), or resetting its password"
  ensure_admin_role || die "cannot reach PostgreSQL as its superuser to create role $url_user. Run, then retry:
  sudo -u postgres psql -c \"CREATE ROLE $url_user SUPERUSER LOGIN PASSWORD '<password from AFTERCARE_ADMIN_DATABASE_URL>'\""
  if ! admin_login && is_root && is_local "$url_host"; then
    allow_password_login
  fi
  admin_login || die "role $url_user exists but cannot log in over TCP; check pg_hba.conf"
  say "admin: $AFTERCARE_ADMIN_DATABASE_URL logs in"
}

find_uv() {
  local candidate
  for candidate in "$(command -v uv || true)" "$TOOLS/bin/uv"; do
    if [[ -n $candidate && -x $candidate ]] && "$candidate" --version >/dev/null 2>&1; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

install_uv() {
  say "python: installing uv into $TOOLS (the system Python is left alone)"
  if ! python3 -m venv "$TOOLS" >/dev/null 2>&1; then
    rm -rf "$TOOLS"
    apt_install python3-venv python3-pip
    python3 -m venv "$TOOLS"
  fi
  "$TOOLS/bin/pip" install -q --disable-pip-version-check uv
}

step_python() {
  local uv
  if ! uv=$(find_uv); then
    install_uv
    uv=$(find_uv) || die "uv did not install"
  fi
  say "python: uv sync (.venv from uv.lock)"
  UV_PYTHON_DOWNLOADS=never "$uv" sync --all-packages --frozen --python python3 --quiet
}

step_db() {
  [[ -x $VENV_PY ]] || die ".venv is missing; run: deploy/local/bootstrap.sh python"
  say "db: provisioning database, roles and schemas (shared.provision)"
  "$VENV_PY" -m shared.provision
  say "db: migrating every service (shared.migrate)"
  "$VENV_PY" -m shared.migrate
}

run_steps() {
  local step
  for step in "$@"; do
    case $step in
      all) run_steps packages postgres rabbitmq admin python db ;;
      infra) run_steps packages postgres rabbitmq admin ;;
      packages | postgres | rabbitmq | admin | python | db) "step_$step" ;;
      *) die "unknown step '$step' (packages postgres rabbitmq admin python db infra all)" ;;
    esac
  done
}

if (($#)); then
  run_steps "$@"
else
  run_steps all
fi
say "bootstrap: done in ${SECONDS}s"
