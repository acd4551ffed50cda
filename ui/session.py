"""What the store PC's kiosk session (deploy/kiosk-session) asks of the config before it starts
cage: the output's rotation, as cage's quarter turns clockwise. The config is checked here first,
so a bad one stops the session with the key named instead of a black screen.

    python -m ui.session CONFIG     prints 0..3
"""
from __future__ import annotations

import sys

from edge.config import load_config
from edge.errors import SignageError


def quarter_turns(config_path: str) -> int:
    return load_config(config_path).kiosk.rotate // 90


if __name__ == "__main__":
    try:
        print(quarter_turns(sys.argv[1]))
    except SignageError as e:
        print(f"kiosk-session: {e}", file=sys.stderr)
        sys.exit(2)
