#!/usr/bin/env bash
# Makes a Debian 12 (bookworm) base image without an image registry: debootstrap --variant=minbase from the
# apt mirror this machine is configured with, imported into podman. Run as root, once per machine, before
# deploy/build-image.sh (it takes a few minutes, so the test suite does not do it; see docs/deploy.md).
#
#   deploy/make-base-image.sh [IMAGE] [MIRROR]
#     IMAGE   name to import as (default: localhost/sluice-base:bookworm)
#     MIRROR  apt mirror (default: the first Debian mirror in /etc/apt/sources.list*, else deb.debian.org)
#
# Installs podman and debootstrap with apt-get when they are missing.
set -euo pipefail
image=${1:-localhost/sluice-base:bookworm}
mirror=${2:-}

if [ "$(id -u)" -ne 0 ]; then
  echo "make-base-image: needs root (debootstrap creates device nodes and chowns files)" >&2
  exit 1
fi

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "make-base-image: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -z "$mirror" ]; then
  # The Debian archive this machine already uses: a one-line `deb URI bookworm ...` entry or a deb822
  # stanza whose URIs serve the bookworm suite (security and updates suites are skipped).
  mirror=$({ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
             | awk '$1 == "deb" && $3 == "bookworm" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }')
  if [ -z "$mirror" ]; then
    mirror=$({ cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } | awk '
      /^[[:space:]]*$/ { if (uri != "" && suites ~ /(^| )bookworm( |$)/) { print uri; exit } uri = ""; suites = "" }
      /^URIs:/   { uri = $2 }
      /^Suites:/ { $1 = ""; suites = $0 " " }
      END { if (uri != "" && suites ~ /(^| )bookworm( |$)/) print uri }' | head -1)
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "make-base-image: debootstrap --variant=minbase bookworm from $mirror"
start=$(date +%s)
if ! debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1; then
  tail -20 "$work/debootstrap.log" >&2
  echo "make-base-image: debootstrap failed (log above)" >&2
  exit 1
fi
# Nothing the image does not need at run time: package caches and logs of the bootstrap itself.
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/log/"*
tar --numeric-owner -C "$work/rootfs" -c . | podman import --quiet - "$image" >/dev/null
echo "make-base-image: imported $image in $(( $(date +%s) - start )) s"
