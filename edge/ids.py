"""The shop's identifiers, one pattern each: a sku, and the ids of looks, stores and catalogues.

A sku may hold '/' (many retailers' skus do); the other ids name MQTT topics and files, so not.
"""
from __future__ import annotations

import re

SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")   # look, store and catalogue ids
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

# Head office's streams (docs/sync.md): each store's own, and the shared one every store follows once
# its own stream said so. "shared" stands where a store id would in a topic, so it is no store id.
OWN_STREAM, SHARED_STREAM = "own", "shared"
# Head office's broker user and client certificate name (the default of sync.username at head office).
HQ_USER = "hq"
# The screen a store's counts come from when it runs one screen (sync.screen empty); a store's status
# then stays on the store's own branch, as before screens had names.
MAIN_SCREEN = "main"


def store_id_problem(text: str) -> str | None:
    """Why `text` is no store id, or None: a store id is an id (letters, digits, . _ -), neither
    the shared stream's name nor head office's user."""
    if not ID_RE.match(text):
        return f"{text!r} is not a store id (letters, digits, . _ - only)"
    if text in (SHARED_STREAM, HQ_USER):
        what = "shared stream" if text == SHARED_STREAM else "user"
        return f"{text!r} is not a store id: it names head office's {what}"
    return None


def is_store_id(text: str) -> bool:
    return store_id_problem(text) is None


def address_problem(text: str) -> str | None:
    """Why `text` is no broker address HOST:PORT, or None."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535 or any(c in host for c in " /#+"):
        return f"{text!r} is not a broker address HOST:PORT"
    return None


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT -> (host, port); ValueError with the reason."""
    why = address_problem(text)
    if why:
        raise ValueError(why)
    host, _, port = text.rpartition(":")
    return host, int(port)
