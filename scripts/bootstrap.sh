#!/usr/bin/env bash
# Make this checkout ready to run: .venv with the pinned requirements, the system programs
# (ffmpeg, redis-server; with --test also Chromium, a Chinese font and PostgreSQL's server
# programs, and nginx) and a Redis answering at REDIS_URL. Idempotent, and quick when everything is already there.
#
#   scripts/bootstrap.sh          what `make run` needs
#   scripts/bootstrap.sh --test   also what the browser tests need (`make test`)
#
# Environment: PYTHON (default python3), REDIS_URL (default redis://127.0.0.1:6379/0),
# INSTANCE_PATH (default ./instance; a Redis started here keeps its log and pid there).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WITH_BROWSER=0
for arg in "$@"; do
    case "$arg" in
        --test) WITH_BROWSER=1 ;;
        *) echo "usage: $0 [--test]" >&2; exit 2 ;;
    esac
done

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
INSTANCE="${INSTANCE_PATH:-$ROOT/instance}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'bootstrap: %s\n' "$*" >&2; exit 1; }

# --- Python 3.11+ (only needed to create .venv) --------------------------------------------------
if [[ ! -x $VENV/bin/python ]]; then
    command -v "$PYTHON" >/dev/null 2>&1 \
        || die "需要 Python 3.11+ / Python 3.11 or newer is required, and '$PYTHON' was not found. Install python3 (3.11+) or set PYTHON=/path/to/python3.11."
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        die "需要 Python 3.11+ / Python 3.11 or newer is required; '$PYTHON' is $("$PYTHON" -V 2>&1). Set PYTHON=/path/to/python3.11 or newer."
    fi
fi

# --- system programs ---------------------------------------------------------------------------
# "command package" pairs: the program we need and the Debian package that brings it.
needed=("ffmpeg ffmpeg" "ffprobe ffmpeg" "redis-server redis-server" "redis-cli redis-tools")
if [[ $WITH_BROWSER == 1 ]]; then
    needed+=("chromium chromium")
    # tests/test_nginx_front.py runs deploy/nginx/ with Debian's nginx in front of gunicorn.
    needed+=("nginx nginx")
fi

missing_packages=()
add_missing() {
    local package="$1" p
    for p in "${missing_packages[@]+"${missing_packages[@]}"}"; do
        [[ $p == "$package" ]] && return 0
    done
    missing_packages+=("$package")
}
for pair in "${needed[@]}"; do
    read -r command package <<<"$pair"
    # nginx lives in /usr/sbin, which a non-root PATH often lacks.
    command -v "$command" >/dev/null 2>&1 || [[ -x /usr/sbin/$command ]] || add_missing "$package"
done
if [[ $WITH_BROWSER == 1 ]] && ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
    add_missing postgresql           # the fault drills run and restart a private cluster of their own
fi
if ! fc-list :lang=zh family 2>/dev/null | grep -q .; then
    # Without a Chinese font, screenshots show empty boxes and the demo's videos (drawn by ffmpeg
    # at first run) come without their titles. The tests need it; `make run` installs it when it
    # can and otherwise goes on without it.
    if [[ $WITH_BROWSER == 1 ]] || { [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; }; then
        add_missing fonts-wqy-microhei
    else
        echo "bootstrap: 没有中文字体 / no Chinese font: the demo videos will have no titles" \
            "(sudo apt-get install -y fonts-wqy-microhei to get them)" >&2
    fi
fi
if [[ ! -x $VENV/bin/python ]] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    add_missing python3-venv         # Debian's python3 ships venv/ensurepip separately
fi

if ((${#missing_packages[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing_packages[*]} (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing_packages[@]}" </dev/null
    else
        echo "缺少系统软件 / missing system packages: ${missing_packages[*]}" >&2
        echo "请先安装 / install them first, e.g.:" >&2
        echo "    sudo apt-get install -y ${missing_packages[*]}" >&2
        exit 1
    fi
fi

# --- Python virtual environment -----------------------------------------------------------------
if [[ ! -x $VENV/bin/python ]]; then
    say "creating .venv with $("$PYTHON" -V 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when a requirements file (or the venv's Python) changed since the last install.
STAMP="$VENV/.requirements.sha256"
wanted="$(cat requirements.txt requirements-dev.txt <("$VENV/bin/python" -V 2>&1) | sha256sum | cut -d' ' -f1)"
if [[ ! -f $STAMP || $(cat "$STAMP") != "$wanted" ]]; then
    say "installing Python packages (requirements-dev.txt)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r requirements-dev.txt
    echo "$wanted" >"$STAMP"
fi

# --- Translations: the compiled catalogues are built here, never committed ------------------------
if [[ -d app/translations ]]; then
    "$VENV/bin/pybabel" compile -d app/translations >/dev/null
fi

# --- Redis --------------------------------------------------------------------------------------
redis_answers() {
    "$VENV/bin/python" - "$REDIS_URL" <<'PY' >/dev/null 2>&1
import sys

import redis

redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1, socket_timeout=1).ping()
PY
}

if ! redis_answers; then
    # Only a Redis on this machine can be started from here.
    read -r redis_host redis_port < <("$VENV/bin/python" -c '
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
print(u.hostname or "", u.port or 6379)' "$REDIS_URL")
    case "$redis_host" in
        127.0.0.1 | localhost | ::1) ;;
        *) die "Redis does not answer at $REDIS_URL, and it is not on this machine: start it, or unset REDIS_URL to use a local one." ;;
    esac
    mkdir -p "$INSTANCE"
    say "starting redis-server on 127.0.0.1:$redis_port (no persistence; log in $INSTANCE/redis.log)"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" --appendonly no \
        --dir "$INSTANCE" --logfile "$INSTANCE/redis.log" --pidfile "$INSTANCE/redis.pid"
    for _ in $(seq 1 50); do
        redis_answers && break
        sleep 0.2
    done
    redis_answers || die "redis-server did not answer at $REDIS_URL within 10 s; see $INSTANCE/redis.log"
fi
