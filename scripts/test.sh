#!/usr/bin/env bash
# The whole suite, as `make test` runs it (after scripts/bootstrap.sh --test), in two phases:
#
#   1. every test not marked serial, on TEST_WORKERS pytest-xdist workers (default 3: with two
#      CPUs, tests that wait on subprocesses, ffmpeg, Chromium and the databases keep more
#      workers than CPUs busy, and each worker pays for its own database, browser and fixtures;
#      README "Tests" has the measurements);
#   2. the @pytest.mark.serial tests (fault drills that break and restart services of their own
#      and run against the clock of their retries) after the rest, SERIAL_WORKERS at a time
#      (default 3: they mostly wait on their retries and restarts; README "Tests").
#
# Each worker keeps to its own Redis keys, queues, PostgreSQL database, ports and temp folder
# (tests/conftest.py). Arguments go to both phases: scripts/test.sh -k likes, or
# `make test PYTEST_ARGS='-k likes'`. TEST_WORKERS=0 runs phase 1 in one process.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTEST="$ROOT/.venv/bin/pytest"
WORKERS="${TEST_WORKERS:-3}"
SERIAL_WORKERS="${SERIAL_WORKERS:-3}"

# The run's temp files (SQLite databases, media, logs, pytest's tmp_path) in memory when the
# machine has /dev/shm: every commit of a test's SQLite database is an fsync on disk otherwise.
# Kept after a failed run for a look; gone after a passing one.
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then
    RUN_TMP="$(mktemp -d /dev/shm/wmcwm-test-run-XXXXXX)"
    chmod 755 "$RUN_TMP"   # the fault drills' private PostgreSQL runs as the postgres user
    export TMPDIR="$RUN_TMP"
fi
# Bytecode for the app and the rewritten tests, written once and read by every worker and every
# process the tests start (gunicorn, media workers), even where PYTHONDONTWRITEBYTECODE is set;
# kept in .venv, out of the tree.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$ROOT/.venv/pycache}"

phase() {
    local name="$1"; shift
    local started=$SECONDS status
    "$PYTEST" "$@"
    status=$?
    echo "==> $name: $((SECONDS - started)) s (exit $status)"
    # 5: nothing collected, e.g. `-k` naming only tests of the other phase.
    [[ $status == 5 ]] && status=0
    return "$status"
}

parallel_args=(--phase=parallel --durations=10)
if [[ $WORKERS != 0 ]]; then
    # Tests go out one at a time, in the order conftest.py gives them (the long ones first), but
    # those of one xdist_group (tests sharing a costly module fixture) all to one worker.
    parallel_args+=(-n "$WORKERS" --dist loadgroup)
fi
started=$SECONDS
phase "parallel phase, $WORKERS workers" "${parallel_args[@]}" "$@"
first=$?
serial_args=("$@")
if (($# == 0)); then
    # Only the modules that hold serial tests: collecting the whole suite again costs seconds.
    mapfile -t serial_args < <(grep -rl --include='test_*.py' 'mark.serial' tests)
fi
if [[ $WORKERS == 0 || $SERIAL_WORKERS == 0 ]]; then
    serial_args=(-p no:xdist "${serial_args[@]}")
else
    serial_args=(-n "$SERIAL_WORKERS" "${serial_args[@]}")
fi
phase "serial phase, ${SERIAL_WORKERS} at a time" --phase=serial --durations=10 "${serial_args[@]}"
second=$?
echo "==> pytest time: $((SECONDS - started)) s"

if ((first || second)); then
    [[ -n ${RUN_TMP:-} ]] && echo "==> temp files of this run kept in $RUN_TMP"
    exit 1
fi
[[ -n ${RUN_TMP:-} ]] && rm -rf "$RUN_TMP"
exit 0
