#!/usr/bin/env bash
# `make run`: migrate the database, load the demo data once, print the demo accounts,
# and serve the portal on http://127.0.0.1:5000 until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

flask() { .venv/bin/flask --app tracker "$@"; }
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}

flask db upgrade
flask demo
echo
echo "Beacon trip simulation: not available yet. The beacon gateway (issue #4) adds"
echo "'beacon-gateway simulate', which this command will then start beside the portal."
echo
echo "Portal: http://$HOST:$PORT   (Ctrl-C stops it)"

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
  exit 0
}
trap stop INT TERM EXIT

# Started directly (not through the function) so $! is the server's own pid.
.venv/bin/flask --app tracker run --host "$HOST" --port "$PORT" --no-reload --no-debugger &
pids+=($!)
wait
