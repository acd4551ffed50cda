"""The staff PIN that leaves the kiosk: set per store at install, kept only as a salted hash, and
locked for a while after a few wrong tries (a shopper trying 0000..9999 at the screen).

The PIN is never in the config (which anyone reading the install can see) nor in the README:
`signage staff-pin set` writes `kiosk.staff_pin_file`; `deploy/install.sh` makes one the first
time and prints it once.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import ConfigError
from .files import atomic_write
from .text import T, Text

PIN_RE = re.compile(r"^\d{4,8}$")
ITERATIONS = 200_000       # PBKDF2-SHA256: ~0.1 s per try on a store PC, dear for anyone with the file


def generate_pin(digits: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def hash_pin(pin: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> dict:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return {"scheme": "pbkdf2-sha256", "iterations": iterations, "salt": salt.hex(), "hash": digest.hex()}


def write_pin_file(path: Path, pin: str) -> None:
    if not PIN_RE.match(pin):
        raise ConfigError("a staff PIN is 4 to 8 digits")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, [json.dumps(hash_pin(pin)).encode()])
    os.chmod(path, 0o600)


def set_pin(path: Path | None, ask: Callable[[], str] | None, if_missing: bool = False) -> dict:
    """`signage staff-pin set`: a PIN from `ask` (None: a random one, shown once) hashed into `path`.
    What was done: pin_file, set (False: one was kept), pin (only a generated one)."""
    if path is None:
        raise ConfigError("config key 'kiosk.staff_pin_file' is empty: say where the PIN's hash goes")
    if if_missing and Path(path).is_file():
        return {"pin_file": str(path), "set": False}
    pin = generate_pin() if ask is None else ask()
    if not PIN_RE.match(pin):
        raise ConfigError("a staff PIN is 4 to 8 digits: nothing changed")
    write_pin_file(path, pin)
    return {"pin_file": str(path), "set": True} | ({"pin": pin} if ask is None else {})


def read_pin_file(path: Path | None) -> dict | None:
    """The stored hash, or None when no PIN was set; a damaged file names the fix."""
    if path is None or not Path(path).is_file():
        return None
    try:
        rec = json.loads(Path(path).read_text())
        if rec.get("scheme") != "pbkdf2-sha256" or not isinstance(rec.get("iterations"), int):
            raise ValueError("unknown scheme")
        bytes.fromhex(rec["salt"]), bytes.fromhex(rec["hash"])
        return rec
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError(f"config key 'kiosk.staff_pin_file': {path} is damaged; "
                          "set the PIN again with `signage staff-pin set`") from None


def pin_matches(record: dict, pin: str) -> bool:
    got = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(record["salt"]), record["iterations"])
    return hmac.compare_digest(got.hex(), record["hash"])


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: Text | str         # what the keypad shows
    locked_for: float = 0.0     # seconds until the next try is taken


class StaffLock:
    """Checks PINs; after max_tries wrong ones in a row, takes none for lock_s seconds (a right PIN
    during the lock is refused too, or the lock would tell a guesser when they hit it)."""

    def __init__(self, record: dict | None, max_tries: int = 5, lock_s: float = 60.0, clock=time.monotonic):
        self.record = record
        self.max_tries = max_tries
        self.lock_s = lock_s
        self.clock = clock
        self.wrong = 0
        self.locked_until = 0.0

    def locked_for(self) -> float:
        return max(0.0, self.locked_until - self.clock())

    def check(self, pin: str) -> Verdict:
        if self.record is None:
            return Verdict(False, T("staff", "No staff PIN is set on this screen: run `signage staff-pin set`"))
        wait = self.locked_for()
        if wait > 0:
            return Verdict(False, T("staff", "Locked: try again in {s} s").fill(s=round(wait)), wait)
        if pin_matches(self.record, pin):
            self.wrong = 0
            return Verdict(True, "")
        self.wrong += 1
        if self.wrong >= self.max_tries:
            self.wrong = 0
            self.locked_until = self.clock() + self.lock_s
            return Verdict(False, T("staff", "Wrong PIN {n} times: locked for {s} s").fill(
                n=self.max_tries, s=round(self.lock_s)), self.lock_s)
        left = self.max_tries - self.wrong
        return Verdict(False, T("staff", "Wrong PIN (1 try left)") if left == 1
                       else T("staff", "Wrong PIN ({n} tries left)").fill(n=left))
