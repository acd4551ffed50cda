#!/usr/bin/env bash
# Run the test suite (installs what it needs first; see deploy/install.sh --no-start).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash deploy/install.sh --no-start
# Only the tests need a browser (the review sheet is opened in Debian's chromium): not a store PC.
if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
export SIGNAGE_TEST_ALL=1      # a tool install.sh should have put here is missing: fail, do not skip
exec .venv/bin/python -m pytest -q "$@"
