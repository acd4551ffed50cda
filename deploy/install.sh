#!/usr/bin/env bash
# Install the kiosk on a fresh Debian machine (Python 3.11) and start it on the demo catalogue.
#
#   deploy/install.sh              install, import the demo catalogue, start the kiosk on the demo video
#   deploy/install.sh --no-start   install only (what CI and deploy/test.sh use)
#   deploy/install.sh --system [--store ID] [--catalog ID] [--hq HOST:PORT[,STANDBY:PORT...]]
#                                  a store PC: the 'signage' user, /etc/signage, /var/lib/signage, the
#                                  store's Mosquitto (bridged to head office with --hq), the systemd
#                                  units enabled and started. Run from where the code stays (/opt/signage).
#   ... --system --root DIR        the same into DIR as if it were / (no user, no systemctl): CI's check
#
# Idempotent: a second run only checks what is there, and never overwrites a config or a PIN.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=1; SYSTEM=0; DEST=""; STORE=""; CATALOG=""; HQ=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-start) START=0 ;;
    --system) SYSTEM=1; START=0 ;;
    --root) DEST="$(realpath -m "$2")"; shift ;;
    --store) STORE="$2"; shift ;;
    --catalog) CATALOG="$2"; shift ;;
    --hq) HQ="$2"; shift ;;
    *) echo "install.sh: unknown option $1 (see the top of this file)" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$DEST" ] && [ "$SYSTEM" = 0 ]; then echo "install.sh: --root goes with --system" >&2; exit 2; fi
# --hq: head office's primary broker, then its standbys, comma-separated (docs/fleet.md)
for a in ${HQ//,/ }; do
  case "$a" in
    *[!A-Za-z0-9.:_-]*|:*|*:|*:*[!0-9]*) echo "install.sh: --hq takes HOST:PORT[,HOST2:PORT], got '$a'" >&2; exit 2 ;;
    *:*) ;;
    *) echo "install.sh: --hq takes HOST:PORT[,HOST2:PORT], got '$a'" >&2; exit 2 ;;
  esac
done
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

# Debian packages: the broker for catalogue sync, Debian's python3 with venv (the venv is made
# from it), the kiosk session of a store PC (the Wayland kiosk compositor cage, xwayland which
# Debian's cage wants, and the Wayland libraries Qt's wayland plugin needs; grim takes its
# screenshots in the session's test), Xvfb and the xcb libraries a Qt window on X needs, fonts
# (Noto CJK: Chinese names and a zh_CN screen never render as boxes), opencv-doc for its real
# test photos (messi5.jpg, basketball1.png), and strace, with which a test proves the kiosk
# writes no file while it runs on a camera.
APT_PKGS="mosquitto mosquitto-clients python3 python3-venv cage xwayland grim libwayland-client0
  libwayland-cursor0 libwayland-egl1 libxkbcommon0 xvfb xauth libxcb-icccm4 libxcb-keysyms1
  libxcb-cursor0 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0
  libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core fonts-noto-cjk opencv-doc strace
  xdotool x11-utils"
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "== apt: installing$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The venv is made from Debian's own python3, the one a store PC has: the kiosk runs as the
# 'signage' user, and a venv made from a python kept under /root (mode 0700, as pyenv's is on
# these machines) cannot run as any other user. PYTHON=... chooses another.
PY="${PYTHON:-/usr/bin/python3}"
base() { "$1" -c 'import sys; print(sys.base_prefix)'; }
if [ -x .venv/bin/python ] && [ "$(base .venv/bin/python)" != "$(base "$PY")" ]; then
  echo "== venv: .venv was made from $(base .venv/bin/python)'s python, not $PY: making it again"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  echo "== venv: .venv"
  "$PY" -m venv .venv
fi
# Re-install whenever pyproject.toml changed since the last install (its hash is kept in the venv).
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat .venv/.pyproject.sha256 2>/dev/null)" != "$want" ]; then
  echo "== pip: installing the project and its test tools"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test,bench]"
  echo "$want" > .venv/.pyproject.sha256
fi

echo "== models: checking models/ against models/manifest.json"
.venv/bin/signage models verify
echo "== screen languages: compiling ui/i18n/*.ts to the .qm files the kiosk loads"
.venv/bin/python -m ui.i18n build >/dev/null

if [ "$SYSTEM" = 1 ]; then
  exec bash deploy/system.sh "$ROOT" "$DEST" "$STORE" "$CATALOG" "$HQ"
fi

echo "== models: compiling them for this CPU once (var/model-cache: the kiosk then starts without compiling)"
.venv/bin/signage models verify --compile | tail -n 1

if [ "$START" = 1 ]; then
  echo "== demo catalogue: importing demo/catalog"
  .venv/bin/signage catalog import demo/catalog
  .venv/bin/signage looks import demo/looks.csv
  # the PIN that leaves the kiosk: made the first time and shown only then (its hash is kept)
  .venv/bin/signage staff-pin set --generate --if-missing
  echo "== starting the kiosk on demo/demo.avi (staff exit: tap the top-right corner 3 times, then the staff PIN)"
  if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "   no screen on this machine: running it on a virtual one (xvfb-run); a store PC shows it fullscreen"
    exec xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/signage kiosk --source demo/demo.avi
  fi
  exec .venv/bin/signage kiosk --source demo/demo.avi
fi
