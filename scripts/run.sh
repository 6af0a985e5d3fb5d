#!/usr/bin/env bash
# Serve the site locally: migrate, load the demo on the first run, start the media worker, the
# periodic jobs' scheduler (flask schedule cron) and its worker (flask schedule worker), and the
# web server (gunicorn), print the URL, and stop them all on Ctrl-C or SIGTERM.
# `make run` calls scripts/bootstrap.sh first; this script expects .venv and Redis to be there.
#
# Environment: HOST (127.0.0.1), PORT (5000), APP_ENV (development), WEB_WORKERS (2),
# WEB_THREADS (4), and everything config.py reads (DATABASE_URL, REDIS_URL, INSTANCE_PATH,
# LOG_FORMAT: text by default under APP_ENV=development, json for machines, …).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export APP_ENV="${APP_ENV:-development}"
export HOST="${HOST:-127.0.0.1}"
export PORT="${PORT:-5000}"
export FLASK_APP=wsgi
export PYTHONUNBUFFERED=1
BIN="$ROOT/.venv/bin"
[[ -x $BIN/flask ]] || { echo "run.sh: .venv is missing: run \`make run\` (it bootstraps first)" >&2; exit 1; }

mkdir -p "${INSTANCE_PATH:-$ROOT/instance}"

echo "==> 数据库迁移 / applying migrations (flask db upgrade)"
"$BIN/flask" db upgrade
# The demo campaign, on the first run only (it does nothing once accounts exist; never in
# production). Its summary and the demo accounts' credentials are printed with the URL below;
# its micro-film and micro-videos are made and transcoded by the worker while the site serves.
DEMO_SUMMARY=""
if [[ $APP_ENV != production ]]; then
    echo "==> 演示数据 / demo data (first run only: flask demo load --if-empty)"
    DEMO_SUMMARY="$("$BIN/flask" demo load --if-empty)"
    [[ $DEMO_SUMMARY == *"demo accounts"* ]] || { echo "$DEMO_SUMMARY"; DEMO_SUMMARY=""; }
fi

# With S3 the bucket must exist and let browsers PUT upload parts from this site (CORS,
# docs/storage.md). Idempotent; a store that refuses leaves the site running without uploads.
if [[ ${STORAGE_BACKEND:-local} == s3 ]]; then
    echo "==> 对象存储 / the bucket and its CORS (flask storage init)"
    origin_host="$HOST"
    [[ $origin_host == 0.0.0.0 || $origin_host == "::" ]] && origin_host=127.0.0.1
    [[ $origin_host == *:* ]] && origin_host="[$origin_host]"
    "$BIN/flask" storage init --origin "http://$origin_host:$PORT" \
        || echo "run.sh: 存储桶未就绪，上传将失败 / the bucket is not ready (see above): uploads will fail until it is" >&2
fi

WORKER_PID=""
CRON_PID=""
JOBS_PID=""
WEB_PID=""

stop_children() {
    trap - INT TERM EXIT
    local pid
    for pid in $WEB_PID $WORKER_PID $CRON_PID $JOBS_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    # gunicorn, the RQ workers and the cron all shut down gracefully on SIGTERM; give them 20 s.
    for _ in $(seq 1 200); do
        alive=0
        for pid in $WEB_PID $WORKER_PID $CRON_PID $JOBS_PID; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        ((alive)) || break
        sleep 0.1
    done
    for pid in $WEB_PID $WORKER_PID $CRON_PID $JOBS_PID; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}

on_signal() {
    echo
    echo "==> 正在停止 / stopping…"
    exit 0   # the EXIT trap stops the children
}
trap on_signal INT TERM
trap 'stop_children' EXIT

"$BIN/python" -m media_worker &
WORKER_PID=$!

# The periodic jobs (app/schedule.py): flushing buffered views to SQL every minute, repairing
# counter drift (docs/counters.md), the vote-integrity detector, stuck transcodes, abandoned
# uploads. The cron enqueues each when it is due; the jobs' worker runs them.
"$BIN/flask" schedule cron &
CRON_PID=$!
"$BIN/flask" schedule worker &
JOBS_PID=$!

# The gunicorn processes add up their metrics through files here (docs/observability.md); files
# left by an earlier run would be counted again, so the folder starts empty. The app writes its
# own access lines (with request ids), so gunicorn writes none.
METRICS_DIR="${INSTANCE_PATH:-$ROOT/instance}/prometheus"
rm -rf "$METRICS_DIR"
mkdir -p "$METRICS_DIR"
PROMETHEUS_MULTIPROC_DIR="$METRICS_DIR" "$BIN/gunicorn" wsgi:app \
    --bind "$HOST:$PORT" \
    --workers "${WEB_WORKERS:-2}" \
    --threads "${WEB_THREADS:-4}" \
    --graceful-timeout 10 &
WEB_PID=$!

# Print the URL once the server answers, so whoever reads it can open it at once.
url_host="$HOST"
[[ $url_host == 0.0.0.0 || $url_host == "::" ]] && url_host=127.0.0.1
[[ $url_host == *:* ]] && url_host="[$url_host]"
URL="http://$url_host:$PORT/"
serving=0
for _ in $(seq 1 300); do
    kill -0 "$WEB_PID" 2>/dev/null || { echo "run.sh: the web server exited before serving; see above" >&2; exit 1; }
    if "$BIN/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "${URL}healthz" >/dev/null 2>&1; then
        serving=1
        break
    fi
    sleep 0.2
done
((serving)) || { echo "run.sh: the web server did not answer at ${URL}healthz within 60 s" >&2; exit 1; }
echo
if [[ -n $DEMO_SUMMARY ]]; then
    echo "$DEMO_SUMMARY"
    echo
fi
echo "网络倡文明 已启动 / is running at $URL"
echo "进程 / processes: web server (gunicorn, pid $WEB_PID), media worker (pid $WORKER_PID)," \
    "scheduler (flask schedule cron, pid $CRON_PID), scheduled jobs' worker (flask schedule worker, pid $JOBS_PID)"
echo "按 Ctrl-C 停止 / press Ctrl-C to stop"
echo

# Wait for any child to end. The media worker, the cron or the jobs' worker ending is reported
# and the site keeps serving (uploads wait in the queue; views wait in Redis); the web server
# ending ends the run.
while true; do
    # shellcheck disable=SC2086  # a PID is empty once its process has gone
    wait -n $WEB_PID $WORKER_PID $CRON_PID $JOBS_PID 2>/dev/null || true
    if ! kill -0 "$WEB_PID" 2>/dev/null; then
        wait "$WEB_PID" && status=0 || status=$?
        echo "run.sh: 网站进程已退出 / the web server exited (status $status)" >&2
        exit "$status"
    fi
    if [[ -n $WORKER_PID ]] && ! kill -0 "$WORKER_PID" 2>/dev/null; then
        wait "$WORKER_PID" && status=0 || status=$?
        echo "run.sh: 媒体处理进程已退出 / the media worker exited (status $status); the site keeps serving, but media jobs wait until a worker runs (python -m media_worker)" >&2
        WORKER_PID=""
    fi
    if [[ -n $CRON_PID ]] && ! kill -0 "$CRON_PID" 2>/dev/null; then
        wait "$CRON_PID" && status=0 || status=$?
        echo "run.sh: 定时任务进程已退出 / the scheduler exited (status $status); the site keeps serving, but the periodic jobs (views written to SQL, counter repair) wait until \`flask schedule cron\` runs again" >&2
        CRON_PID=""
    fi
    if [[ -n $JOBS_PID ]] && ! kill -0 "$JOBS_PID" 2>/dev/null; then
        wait "$JOBS_PID" && status=0 || status=$?
        echo "run.sh: 定时任务执行进程已退出 / the scheduled jobs' worker exited (status $status); the site keeps serving, but the periodic jobs wait until \`flask schedule worker\` runs again" >&2
        JOBS_PID=""
    fi
done
