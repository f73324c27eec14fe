#!/usr/bin/env bash
# Starts a demo: the server on 127.0.0.1:8080 with the embedded store in
# ./data, demo content, and one local player already paired.
set -euo pipefail

DATA=${DATA:-./data}
LISTEN=${LISTEN:-127.0.0.1:8080}
PLAYER_LISTEN=${PLAYER_LISTEN:-127.0.0.1:8081}
mkdir -p "$DATA"

bin/beacon demo --data "$DATA" --player-data "$DATA/player"
TOKEN=$(bin/beacon token create --data "$DATA" --role admin --name "make run $(date -u +%Y-%m-%dT%H:%M:%SZ)")

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

bin/beacon serve --data "$DATA" --listen "$LISTEN" >>"$DATA/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://$LISTEN/healthz" >/dev/null || { echo "server did not start; see $DATA/server.log" >&2; exit 1; }

KIOSK=()
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then KIOSK=(--kiosk); fi
bin/beacon-player --server "http://$LISTEN" --data "$DATA/player" --listen "$PLAYER_LISTEN" "${KIOSK[@]}" >>"$DATA/player.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://$PLAYER_LISTEN/status" >/dev/null 2>&1 && break
  sleep 0.1
done

cat <<EOT

Beacon is running.
  API:           http://$LISTEN/api/v1   (OpenAPI: http://$LISTEN/api/v1/openapi.json)
  Admin token:   $TOKEN
                 try: curl -H "Authorization: Bearer $TOKEN" http://$LISTEN/api/v1/displays
  Player:        http://$PLAYER_LISTEN/status
  Renderer:      http://$PLAYER_LISTEN/   (open it in a browser: the demo loop plays there)
  Logs:          $DATA/server.log, $DATA/player.log
Press Ctrl-C to stop.
EOT
wait -n "${pids[@]}"
