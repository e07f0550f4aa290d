#!/usr/bin/env bash
# Builds the Sluice runtime image (deploy/Dockerfile) from the host-built release binary.
#
#   deploy/build-image.sh BASE-IMAGE [TAG]
#     BASE-IMAGE  a Debian 12 image: docker.io/library/debian:bookworm-slim where a registry is reachable, or
#                 localhost/sluice-base:bookworm made by deploy/make-base-image.sh where none is
#     TAG         image name (default: localhost/sluice:latest)
#   SLUICE_BIN    the binary to package (default: .build/release/sluice, built with
#                 swift build -c release --product sluice --static-swift-stdlib)
#
# Uses `podman build --isolation chroot` (Debian 12's podman; buildah works the same way with `buildah bud`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
base=$1
tag=${2:-localhost/sluice:latest}
binary=${SLUICE_BIN:-$root/.build/release/sluice}

command -v podman >/dev/null || { echo "build-image: podman is not installed (apt-get install podman)" >&2; exit 1; }
[ -x "$binary" ] || {
  echo "build-image: $binary is missing; build it: swift build -c release --product sluice --static-swift-stdlib" >&2
  exit 1
}
# A binary linked against the Swift runtime's shared libraries would not start on the base image.
if ldd "$binary" | grep -q 'libswift'; then
  echo "build-image: $binary links the Swift runtime dynamically; build it with --static-swift-stdlib" >&2
  exit 1
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
install -m 0755 "$binary" "$context/sluice"
podman build --isolation chroot --build-arg "BASE=$base" -f "$root/deploy/Dockerfile" -t "$tag" "$context"
echo "build-image: built $tag on $base"
