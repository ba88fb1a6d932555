"""The registry's secret key: where it is read from, and when it is strong enough.

`bcr pseudonymise` keys its pseudonyms with it (HMAC-SHA256) and `bcr erase` its audit
hash. It is read from a file (``--key-file``) or the environment variable
``BCR_PSEUDONYM_KEY``, never from the data folder it protects (whoever holds the folder
could then recompute every hash), and is never written anywhere. A key must have at
least registry.yaml ``keys.min_bytes`` bytes of which ``keys.min_distinct_bytes`` differ:
sixteen identical characters are refused however long the key is.
"""

from __future__ import annotations

import os
from pathlib import Path

from analysis.data import dictionary as dd
from analysis.errors import UserError

KEY_ENV = "BCR_PSEUDONYM_KEY"
HOW = "e.g. the output of `openssl rand -hex 32` in a file outside the data folder"


def key_rules() -> tuple[int, int]:
    """(least length in bytes, least number of different bytes) of registry.yaml `keys`."""
    cfg = dd.registry().get("keys", {})
    return int(cfg.get("min_bytes", 32)), int(cfg.get("min_distinct_bytes", 10))


def check_key(key: bytes, source: str) -> bytes:
    """``key`` when it is strong enough (see the module docstring), else a UserError that
    says what is needed, naming where the key came from but never the key."""
    min_bytes, min_distinct = key_rules()
    if len(key) < min_bytes or len(set(key)) < min_distinct:
        raise UserError(f"{source}: the key is too weak ({len(key)} bytes, "
                        f"{len(set(key))} different); a key needs at least {min_bytes} "
                        f"bytes of which at least {min_distinct} differ, {HOW}")
    return key


def load_key(key_file: Path | None, purpose: str, data_dir: Path | None = None) -> bytes:
    """The registry key, from ``key_file`` or else ``$BCR_PSEUDONYM_KEY``, checked with
    :func:`check_key`. Surrounding blanks and the final newline are not part of it.

    ``purpose`` says in the refusal what the key is for. A key file inside ``data_dir``
    (the folder the key protects) is refused, as is no key at all.
    """
    if key_file is not None:
        if not key_file.is_file():
            raise UserError(f"{key_file}: key file not found")
        if data_dir is not None and key_file.resolve().is_relative_to(data_dir.resolve()):
            raise UserError(f"{key_file}: the key file lies inside the data folder it "
                            "protects; keep it elsewhere")
        return check_key(key_file.read_bytes().strip(), str(key_file))
    key = os.environ.get(KEY_ENV, "").strip().encode("utf-8")
    if not key:
        raise UserError(f"no key {purpose}: give --key-file FILE or set {KEY_ENV} ({HOW}); "
                        "refusing to continue without one")
    return check_key(key, KEY_ENV)
