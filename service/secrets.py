"""The server's secret key, the keys derived from it, and secrets kept encrypted at rest.

One secret key per deployment (``CASTLEGATE_SECRET_KEY``: at least 32 bytes, as hex or
urlsafe base64). Unset, ``server_key`` makes one at the first start and keeps it in
``data_dir/secret.key`` (mode 0600): enough for one machine; every process of a deployment
spread over several machines must be given the same ``CASTLEGATE_SECRET_KEY``.

Nothing uses the server key directly: each use gets a key of its own, ``derive(key,
purpose)`` (HKDF-SHA256), so that a key made for one purpose (API key digests:
``"api-keys"``) says nothing about another (webhook secrets: ``"webhook-secrets"``).

Webhook secrets are stored as Fernet tokens (``fernet:<token>``: AES-128-CBC with an
HMAC-SHA256, ``cryptography``'s ``Fernet``) under the derived key, through a ``SecretBox``.
A stolen store (a backup, a copied sqlite file, a Neo4j dump) then holds no secret a
forger could sign with. Rotation: set the new key as ``CASTLEGATE_SECRET_KEY`` and the old
one as ``CASTLEGATE_SECRET_KEY_PREVIOUS``; secrets are read with either and written with
the new one (``MultiFernet``), so each is re-encrypted when it is next written.

Example
-------
>>> box = SecretBox([b"k" * 32])
>>> token = box.encrypt("whsec_example")
>>> token.startswith("fernet:"), box.decrypt(token)
(True, 'whsec_example')
>>> box.decrypt("a-plaintext-secret-from-before")  # written before encryption: as it is
'a-plaintext-secret-from-before'
>>> derive(b"k" * 32, "api-keys") != derive(b"k" * 32, "webhook-secrets")
True
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from service.settings import Settings

log = logging.getLogger("castlegate.secrets")

__all__ = ["server_key", "previous_server_key", "derive", "parse_key", "SecretBox", "SecretUnreadable", "is_encrypted",
           "secret_box", "KEY_FILE", "MIN_KEY_BYTES", "PREFIX"]

#: the generated key's file, in the data folder
KEY_FILE = "secret.key"
MIN_KEY_BYTES = 32
#: how an encrypted secret starts in the store; anything else is a plaintext secret
#: written before secrets were encrypted
PREFIX = "fernet:"

_HEX = re.compile(r"[0-9a-fA-F]+")
_B64 = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def parse_key(raw: str) -> bytes:
    """The bytes of a configured key: hex (an even number of hex digits) or urlsafe
    base64 (padding optional), at least ``MIN_KEY_BYTES`` bytes. Hex wins when a string
    is both. Raises ``ValueError`` saying what is wrong (never echoing the key)."""
    raw = raw.strip()
    key: bytes | None = None
    if _HEX.fullmatch(raw) and len(raw) % 2 == 0:
        key = bytes.fromhex(raw)
    elif _B64.fullmatch(raw):
        try:
            key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            key = None
    if key is None:
        raise ValueError("must be hex or urlsafe base64")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"must be at least {MIN_KEY_BYTES} bytes (64 hex digits), got {len(key)}")
    return key


def server_key(settings: "Settings") -> bytes:
    """The server's secret key: ``CASTLEGATE_SECRET_KEY``, or, when unset, the one kept in
    ``data_dir/secret.key``, made (32 random bytes, mode 0600) the first time it is asked
    for. Two processes starting together agree on one: the file appears whole, once
    (written aside, then hard-linked into place, which never replaces a file)."""
    if settings.secret_key:
        return parse_key(settings.secret_key)
    return _key_file(Path(settings.data_dir) / KEY_FILE)


def previous_server_key(settings: "Settings") -> bytes | None:
    """``CASTLEGATE_SECRET_KEY_PREVIOUS``: the key before a rotation, still read."""
    return parse_key(settings.secret_key_previous) if settings.secret_key_previous else None


def derive(server_key: bytes, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose`` ("webhook-secrets", "api-keys", ...): HKDF-SHA256
    of the server key, with the purpose as its info. Distinct purposes give unrelated keys."""
    if not purpose:
        raise ValueError("a purpose is needed")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"castlegate",
                info=b"castlegate:" + purpose.encode()).derive(server_key)


class SecretUnreadable(Exception):
    """A stored secret none of the configured keys opens (the server key changed without
    ``CASTLEGATE_SECRET_KEY_PREVIOUS``, or the stored text was altered)."""


class SecretBox:
    """Encrypts and decrypts short secrets (str) for the store. ``server_keys``: the
    current key first, then keys still read (rotation)."""

    PURPOSE = "webhook-secrets"

    def __init__(self, server_keys: Sequence[bytes]) -> None:
        if not server_keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(base64.urlsafe_b64encode(derive(k, self.PURPOSE)))
                                    for k in server_keys])

    def encrypt(self, secret: str) -> str:
        return PREFIX + self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The secret; a stored value without the prefix is a plaintext secret written
        before encryption and is returned as it is. Raises ``SecretUnreadable``."""
        if not is_encrypted(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise SecretUnreadable("the stored secret cannot be decrypted with CASTLEGATE_SECRET_KEY"
                                   " (or CASTLEGATE_SECRET_KEY_PREVIOUS)") from None

    @classmethod
    def from_settings(cls, settings: "Settings") -> "SecretBox":
        keys = [server_key(settings)]
        previous = previous_server_key(settings)
        if previous is not None and previous != keys[0]:
            keys.append(previous)
        return cls(keys)


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


_boxes: dict[tuple, SecretBox] = {}
_boxes_lock = threading.Lock()


def secret_box(settings: "Settings") -> SecretBox:
    """The ``SecretBox`` of these settings, made once per process and key configuration."""
    where = (settings.secret_key, settings.secret_key_previous,
             None if settings.secret_key else str(Path(settings.data_dir).resolve()))
    with _boxes_lock:
        box = _boxes.get(where)
        if box is None:
            box = _boxes[where] = SecretBox.from_settings(settings)
        return box


# the generated key's file ------------------------------------------------------------
def _key_file(path: Path) -> bytes:
    existing = _read_key_file(path, wait=5.0)
    if existing is not None:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    content = (secrets.token_hex(MIN_KEY_BYTES) + "\n").encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic, and never over a key another process put there first
            log.info("made the server's secret key", extra={"path": str(path)})
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: exclusive create, readers wait for it whole
            _create_exclusive(path, content)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    key = _read_key_file(path, wait=5.0)
    if key is None:
        raise RuntimeError(f"{path} does not hold a key")
    return key


def _create_exclusive(path: Path, content: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())


def _read_key_file(path: Path, wait: float = 0.0) -> bytes | None:
    deadline = time.monotonic() + wait
    while True:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return None
        if text:
            try:
                key = parse_key(text)
            except ValueError as e:
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"{path}: the server's secret key {e}") from None
            else:
                if os.name == "posix" and path.stat().st_mode & 0o077:
                    log.warning("the server's secret key file is readable by others; chmod 600 it",
                                extra={"path": str(path)})
                return key
        elif time.monotonic() >= deadline:
            raise RuntimeError(f"{path} is empty; delete it to make a new server key")
        time.sleep(0.05)  # another process is writing it (no-hard-link file systems only)
