#!/usr/bin/env bash
# Screenshots of each kiosk screen, from a real window under Xvfb, into docs/screenshots/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/signage catalog import demo/catalog --quiet >/dev/null
unset QT_QPA_PLATFORM
exec xvfb-run -a -s "-screen 0 1920x1920x24" .venv/bin/python -m bench.screenshots
