#!/usr/bin/env bash
# Screenshots of each kiosk screen, from a real window under Xvfb, into docs/screenshots/, and of
# the store PC's kiosk session (cage, as the kiosk unit runs it) by its test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/signage catalog import demo/catalog --quiet >/dev/null
unset QT_QPA_PLATFORM
xvfb-run -a -s "-screen 0 1920x1920x24" .venv/bin/python -m bench.screenshots
SIGNAGE_SESSION_SHOTS="$PWD/docs/screenshots" QT_QPA_PLATFORM=offscreen \
  .venv/bin/python -m pytest -q tests/ui/test_kiosk_session.py -k fills
.venv/bin/python -m bench.review_screenshot
