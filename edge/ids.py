"""The shop's identifiers, one pattern each: a sku, and the ids of looks, stores and catalogues.

A sku may hold '/' (many retailers' skus do); the other ids name MQTT topics and files, so not.
"""
from __future__ import annotations

import re

SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")   # look, store and catalogue ids
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
