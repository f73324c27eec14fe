#!/usr/bin/env bash
# Starts a demo: the server on 127.0.0.1:8080 with the embedded store in
# ./data, demo content, and one local player already paired.
set -euo pipefail

DATA=${DATA:-./data}
LISTEN=${LISTEN:-127.0.0.1:8080}
PLAYER_LISTEN=${PLAYER_LISTEN:-127.0.0.1:8081}
mkdir -p "$DATA"

bin/beacon demo --data "$DATA" --player-data "$DATA/player" | tee "$DATA/.demo.out"
# The demo's admin password is printed once, when it is made; keep it in
# the data directory (mode 0600) so every `make run` can say how to sign in.
if pw=$(sed -n 's/^demo: admin account: user "admin" password "\(.*\)".*/\1/p' "$DATA/.demo.out") && [ -n "$pw" ]; then
  (umask 077; printf '%s\n' "$pw" >"$DATA/admin-password")
fi
rm -f "$DATA/.demo.out"
SIGNIN="user admin, password printed by the first make run"
[ -f "$DATA/admin-password" ] && SIGNIN="user admin, password $(cat "$DATA/admin-password")  (kept in $DATA/admin-password)"
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
# The kiosk browser keeps its sandbox: as root the player would start it as
# the beacon-kiosk user (see docs/deploy.md), which a demo does not set up,
# so a root demo leaves the renderer to a browser of your own.
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && { [ "$(id -u)" -ne 0 ] || id beacon-kiosk >/dev/null 2>&1; }; then KIOSK=(--kiosk); fi
bin/beacon-player --server "http://$LISTEN" --data "$DATA/player" --listen "$PLAYER_LISTEN" "${KIOSK[@]}" >>"$DATA/player.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://$PLAYER_LISTEN/status" >/dev/null 2>&1 && break
  sleep 0.1
done

cat <<EOT

Beacon is running.
  Console:       http://$LISTEN/   (sign in: $SIGNIN)
  API:           http://$LISTEN/api/v1   (OpenAPI: http://$LISTEN/api/v1/openapi.json)
  Admin token:   $TOKEN
                 try: curl -H "Authorization: Bearer $TOKEN" http://$LISTEN/api/v1/displays
  Player:        http://$PLAYER_LISTEN/status
  Renderer:      http://$PLAYER_LISTEN/   (open it in a browser: the demo loop plays there)
  Logs:          $DATA/server.log, $DATA/player.log
Press Ctrl-C to stop.
EOT
wait -n "${pids[@]}"
