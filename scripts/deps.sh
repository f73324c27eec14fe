#!/usr/bin/env bash
# Installs the Debian 12 packages Beacon builds and tests with, skipping
# those already present. Run as root (or with sudo available).
set -euo pipefail

packages=(
  pkg-config gcc make git ca-certificates curl
  # FFmpeg 5.1 libraries for go-astiav v0.16 (the media worker)
  libavcodec-dev libavformat-dev libavfilter-dev libswscale-dev
  libswresample-dev libavutil-dev libavdevice-dev
  # still pictures the server decodes itself (cgo): HEIF/HEIC and AVIF,
  # JPEG, and the TIFFs Go's decoder lacks
  libheif-dev libturbojpeg0-dev libtiff-dev
  # the ffmpeg and ImageMagick command lines: benchmark baselines; with
  # heif-enc/heif-convert and avifenc they also build the still-picture
  # test corpus
  ffmpeg imagemagick libheif-examples libavif-bin
  # libwebp's animation decoder (animated WebP, through cgo in the media worker)
  libwebp-dev
  # SoX: odd audio files (ADPCM WAV) for the media tests
  sox
  # the renderer in kiosk mode and in browser tests
  chromium
  # fonts with Vietnamese and CJK glyphs
  fonts-noto-core fonts-noto-cjk fonts-dejavu-core
)
# `deps.sh --test` adds what only the tests use: a Redis server for the
# bus conformance suite (scripts/services.sh starts it).
if [ "${1:-}" = "--test" ]; then
  packages+=(redis-server)
  # the console's browser tests load axe-core, installed with npm (package-lock.json)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    echo "deps: Go is in /usr/local/go/bin; add it to PATH" >&2
  else
    echo "deps: Go 1.26 or newer is required (https://go.dev/doc/install); Debian 12's golang package is too old" >&2
  fi
  exit 1
fi
