#!/usr/bin/env bash
# `make run`: migrate the database, load the demo data once, print the demo accounts,
# serve the portal on http://127.0.0.1:5000 (PORT=8080 make run for another port) and the
# beacon gateway on 127.0.0.1:5055, deliver notifications, and drive the demo truck along its
# route, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

flask() { .venv/bin/flask --app tracker "$@"; }
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}

flask db upgrade
flask demo
flask evidence seal >/dev/null   # the demo's past hours of positions and its declarations
GATEWAY_PORT=${GATEWAY_HTTP_PORT:-5055}
# The demo export's beacon (truck 09 KG 482 AAH) speaks OsmAnd, which needs its key: a fresh
# one each run (the last run's is revoked), never written to disk.
DEMO_BEACON=356938035643809
DEMO_KEY=""
issued=$(flask device set-key --device-id "$DEMO_BEACON" --gateway-url "http://127.0.0.1:$GATEWAY_PORT")
[[ $issued =~ (mt_[A-Za-z0-9_-]+) ]] && DEMO_KEY=${BASH_REMATCH[1]}
# The demo truck drives the demo's own export, asked for by reference: a declaration a user
# files and dispatches here must not take its place.
DEMO_TRIP=$(flask demo --trip) || DEMO_TRIP=""
echo
echo "Portal:         http://$HOST:$PORT   (Ctrl-C stops everything; another port: PORT=8080 make run)"
echo "Beacon gateway: http://127.0.0.1:$GATEWAY_PORT (JSON and OsmAnd over HTTP)"
if [ -n "$DEMO_TRIP" ]; then
  echo "Demo trip:      $DEMO_TRIP, the export Khaidarkan -> Ak-Jol, carries on from where it is, one fix"
  echo "                every 30 s; at Ak-Jol it starts again from Khaidarkan"
else
  echo "Demo trip:      none in transit any more, so no truck drives (a new database brings it back)"
fi
if [ -n "${MAP_TILE_URL:-}" ]; then
  echo "Map tiles:      $MAP_TILE_URL"
else
  echo "Map tiles:      none configured: the maps draw the offline base map (borders and regions"
  echo "                from Natural Earth). For streets and terrain, point the portal at a tile server:"
  echo "                MAP_TILE_URL='http://127.0.0.1:8081/kyrgyzstan/{z}/{x}/{y}.png' \\"
  echo "                MAP_TILE_ATTRIBUTION='(c) OpenStreetMap contributors' make run"
  echo "                (a self-hosted PMTiles file works: see \"Maps\" in README.md)"
fi
echo

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
  exit 0
}
trap stop INT TERM EXIT

# Started directly (not through the function) so $! is each server's own pid.
.venv/bin/flask --app tracker run --host "$HOST" --port "$PORT" --no-reload --no-debugger &
pids+=($!)
GATEWAY_HTTP_PORT=$GATEWAY_PORT .venv/bin/beacon-gateway serve &
pids+=($!)
# Notifications: the bell's entries, e-mail (when SMTP_HOST is set) and webhooks, from the outbox.
.venv/bin/flask --app tracker notifications deliver &
pids+=($!)
for _ in $(seq 50); do   # the simulator starts once the gateway listens
  (exec 3<>"/dev/tcp/127.0.0.1/$GATEWAY_PORT") 2>/dev/null && break
  sleep 0.2
done
drive_demo_truck() {
  local again=() child=""
  trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 0' TERM
  while true; do
    .venv/bin/beacon-gateway simulate --declaration "$DEMO_TRIP" --protocol osmand --token "$DEMO_KEY" \
      --to "http://127.0.0.1:$GATEWAY_PORT" --speed 50 --period 30 --stop Osh:45 --stop Toktogul:30 \
      --tunnel-gap 19 --realtime "${again[@]}" &
    child=$!
    wait "$child" || sleep 30   # the gateway away for a moment: try again
    # At the end of the road, the same truck sets off again from Khaidarkan.
    again=(--departed "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --start-at 0)
  done
}
if [ -n "$DEMO_TRIP" ]; then
  drive_demo_truck &
  pids+=($!)
fi
wait
