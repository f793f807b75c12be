#!/usr/bin/env bash
# xfer-keras in one command, on a fresh machine:
#   ./run.sh demo   set up (venv + pinned install + model files), then explain the embedded image
#   ./run.sh test   set up, then run the whole test suite (unit tests + notebooks, quick profile)
# Set-up is skipped when requirements.txt and pyproject.toml have not changed since last time.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${XFER_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating virtual environment in $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.xfer-requirements.sha256"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing pinned requirements (first time: a few minutes)"
  start=$(date +%s)
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r requirements.txt -e .
  echo "$want" >"$stamp"
  echo "== installed in $(( $(date +%s) - start )) s"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m xfer_keras fetch-models

case "${1:-}" in
  demo)
    shift
    python -m xfer_keras demo --out "${XFER_OUT:-outputs/demo}" "$@"
    ;;
  test)
    shift
    export XFER_PROFILE=${XFER_PROFILE:-quick}
    python -m pytest tests --nbmake notebooks --nbmake-timeout=1200 "$@"
    ;;
  *)
    echo "usage: $0 demo|test [extra args]" >&2
    exit 2
    ;;
esac
