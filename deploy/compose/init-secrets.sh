#!/usr/bin/env bash
# Prepares what deploy/compose.yaml mounts into the Sluice replicas (git-ignored, never baked into the image):
#   deploy/compose/secrets/tls/tls.crt, tls.key         the development server certificate (certs/generate:
#                                                       valid for localhost/127.0.0.1; CA in certs/dev/ca.pem)
#   deploy/compose/secrets/security/security.json       an admin API key (its SHA-256 only) and the audit log
#   deploy/compose/secrets/api-key                      the API key itself, for clients (x-api-key header)
# The files are made readable by the image's user (uid 10001). For production use your own certificate
# and policy (docs/security.md). Idempotent: existing files are kept; --force remakes them.
#   SLUICE_BIN   the sluice binary that creates the key (default: .build/release/sluice)
#   SLUICE_COMPOSE_SECRETS   where to write them (default: deploy/compose/secrets, where compose.yaml looks)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${SLUICE_COMPOSE_SECRETS:-$root/deploy/compose/secrets}
sluice=${SLUICE_BIN:-$root/.build/release/sluice}
[ -x "$sluice" ] || { echo "init-secrets: $sluice is missing (swift build -c release --product sluice --static-swift-stdlib)" >&2; exit 1; }
if [ "${1:-}" = "--force" ]; then rm -rf "$out"; fi
mkdir -p "$out/tls" "$out/security"
umask 077

"$root/certs/generate" >/dev/null
[ -s "$out/tls/tls.crt" ] || cp "$root/certs/dev/server.pem" "$out/tls/tls.crt"
[ -s "$out/tls/tls.key" ] || cp "$root/certs/dev/server-key.pem" "$out/tls/tls.key"

if [ ! -s "$out/security/security.json" ] || [ ! -s "$out/api-key" ]; then
  # `sluice keys create` prints the key once (line 2) and the configuration entry holding its hash (last line).
  created=$("$sluice" keys create --principal compose-admin --role admin --id compose-admin)
  echo "$created" | sed -n '2p' | tr -d ' ' > "$out/api-key"
  entry=$(echo "$created" | tail -1 | sed 's/^ *//')
  printf '{\n  "apiKeys": [%s],\n  "audit": {"path": "/var/log/sluice/audit.log", "onFailure": "fail-open"}\n}\n' \
    "$entry" > "$out/security/security.json"
fi

# The replicas run as uid 10001 and must read the key and the policy; nobody else may.
if [ "$(id -u)" -eq 0 ]; then
  chown -R 10001:10001 "$out/tls" "$out/security"
  chmod 0500 "$out/tls" "$out/security"
  chmod 0400 "$out/tls/"* "$out/security/"*
else
  echo "init-secrets: not root: make $out/tls and $out/security readable by uid 10001 (rootless podman: podman unshare chown -R 10001:10001 ...)" >&2
fi
echo "init-secrets: ready in $out (API key in $out/api-key)"
