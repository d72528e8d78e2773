"""Secrets at rest: tokens and keys sealed before they are stored, bound to the workspace they belong to.

The key ring comes from VIDEOBOT_ENCRYPTION_KEY: one or more keys, comma-separated, each 32 random bytes in
URL-safe base64 (`Fernet.generate_key()` or `base64.urlsafe_b64encode(os.urandom(32))` makes one). The
first key seals; every key opens, so a new key goes first and the old one stays behind it until every value
has been sealed again (`KeyRing.reseal`).

A value is sealed with AES-256-GCM (`cryptography`'s AESGCM, nothing hand-written) and the workspace
(enterprise id and team id) as associated data: a value copied into another workspace's row does not open.
Its stored form is text, `v1:<key id>:<nonce and ciphertext, URL-safe base64>`: the version says how it was
sealed, the key id which key sealed it (a short digest of the key, never the key).

Nothing here logs, and no message of an error holds a key, a value or a sealed value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SETTING = "VIDEOBOT_ENCRYPTION_KEY"
VERSION = "v1"
KEY_BYTES = 32
_NONCE_BYTES = 12
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class EncryptionKeyError(ValueError):
    """The key setting is missing or malformed; the message names the setting and the item, never a key."""


class SealedValueError(ValueError):
    """A stored value does not open: another workspace's, altered, sealed by a key not in the ring, or not
    a sealed value at all. The message says which, never the value."""


@dataclass(frozen=True)
class Workspace:
    """Whose a sealed value is: the enterprise (Grid org) and the team, either absent (None or "")."""

    enterprise_id: str | None
    team_id: str | None

    def associated_data(self, purpose: str = "") -> bytes:
        """What a sealed value is bound to: this workspace, and what the value is (`purpose`, a column's
        name), so a bot token copied into a user token's place does not open either."""
        return f"videobot/{VERSION}/enterprise={self.enterprise_id or ''}/team={self.team_id or ''}/{purpose}".encode()


@dataclass(frozen=True)
class _Key:
    key_id: str
    aead: AESGCM


def key_id(key: bytes) -> str:
    """A short name for `key` in the stored form: 8 hex digits of a digest, enough to pick it from a ring."""
    return hashlib.sha256(b"videobot key id\x00" + key).hexdigest()[:8]


def generate_key() -> str:
    """A new key, as VIDEOBOT_ENCRYPTION_KEY takes it."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def _decode_key(item: str, position: int, count: int, setting: str) -> bytes:
    where = f"{setting}" if count == 1 else f"{setting} (key {position} of {count})"
    if not item:
        raise EncryptionKeyError(f"{where} is empty: each key is 32 random bytes in URL-safe base64, comma-separated")
    if not _BASE64URL.fullmatch(item):
        raise EncryptionKeyError(f"{where} is not URL-safe base64: each key is 32 random bytes, base64-encoded")
    try:
        raw = base64.urlsafe_b64decode(item + "=" * (-len(item) % 4))
    except (binascii.Error, ValueError):
        raise EncryptionKeyError(
            f"{where} is not URL-safe base64: each key is 32 random bytes, base64-encoded"
        ) from None
    if len(raw) != KEY_BYTES:
        raise EncryptionKeyError(f"{where} decodes to {len(raw)} bytes, not {KEY_BYTES}: make one with 32 random bytes")
    return raw


class KeyRing:
    """The keys that seal and open stored secrets: the first seals, all open."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise EncryptionKeyError(f"{SETTING} holds no key")
        ring: list[_Key] = []
        for key in keys:
            if len(key) != KEY_BYTES:
                raise EncryptionKeyError(f"a key of {SETTING} is {len(key)} bytes, not {KEY_BYTES}")
            kid = key_id(key)
            if all(known.key_id != kid for known in ring):
                ring.append(_Key(kid, AESGCM(key)))
        self._keys = tuple(ring)
        self._by_id = {key.key_id: key for key in ring}

    @classmethod
    def parse(cls, text: str | None, *, setting: str = SETTING) -> KeyRing:
        """The ring a setting's value describes; EncryptionKeyError naming `setting` (never a key) if it is
        missing or any key in it is malformed."""
        if text is None or not text.strip():
            raise EncryptionKeyError(
                f"{setting} is not set: it needs at least one key, 32 random bytes in URL-safe base64"
            )
        items = [item.strip() for item in text.split(",")]
        return cls([_decode_key(item, n, len(items), setting) for n, item in enumerate(items, start=1)])

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of the ring's keys, the sealing one first."""
        return tuple(key.key_id for key in self._keys)

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={self.key_ids!r})"

    def seal(self, value: str, workspace: Workspace, purpose: str = "") -> str:
        """`value` sealed with the first key, bound to `workspace` and `purpose`, in its stored form."""
        key = self._keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, value.encode(), workspace.associated_data(purpose))
        return f"{VERSION}:{key.key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, stored: str, workspace: Workspace, purpose: str = "") -> str:
        """The value `stored` seals, if it was sealed for `workspace` and `purpose` by a key of the ring and
        never altered."""
        _, kid, body = _split(stored)
        key = self._by_id.get(kid)
        if key is None:
            raise SealedValueError(
                f"a stored secret was sealed by key {kid}, which {SETTING} no longer holds "
                "(keep an old key after the new one until every value is sealed again)"
            )
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise SealedValueError("a stored secret is damaged: its body is not base64") from None
        if len(raw) <= _NONCE_BYTES:
            raise SealedValueError("a stored secret is damaged: it is too short")
        try:
            plain = key.aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], workspace.associated_data(purpose))
        except InvalidTag:
            raise SealedValueError(
                "a stored secret does not open for this workspace: it was altered, or belongs to another one"
            ) from None
        return plain.decode()

    def sealed_by_current_key(self, stored: str) -> bool:
        """Whether `stored` is already sealed by the ring's first key (reseal would leave it as it is)."""
        return _split(stored)[1] == self._keys[0].key_id

    def reseal(self, stored: str, workspace: Workspace, purpose: str = "") -> str:
        """`stored` sealed again with the first key (unchanged if that key sealed it), for key rotation."""
        if self.sealed_by_current_key(stored):
            return stored
        return self.seal(self.open(stored, workspace, purpose), workspace, purpose)


def _split(stored: str) -> tuple[str, str, str]:
    parts = stored.split(":")
    if len(parts) != 3 or not parts[0].startswith("v"):
        raise SealedValueError("a stored secret is not in the sealed form this version of videobot writes")
    if parts[0] != VERSION:
        raise SealedValueError(f"a stored secret is sealed in form {parts[0]}, which this videobot cannot open")
    return parts[0], parts[1], parts[2]
