"""Secrets at rest (storage/secrets.py): sealed values open only for their workspace, unaltered, under a key
of the ring; keys rotate; a malformed key is refused with the setting's name and never its value."""

from __future__ import annotations

import base64
import os

import pytest

from storage.secrets import (
    SETTING,
    EncryptionKeyError,
    KeyRing,
    SealedValueError,
    Workspace,
    generate_key,
)

TOKEN = "xoxb-1111-2222-secret-bot-token"
ACME = Workspace(enterprise_id=None, team_id="T0001")
GLOBEX = Workspace(enterprise_id=None, team_id="T0002")
GRID_ORG = Workspace(enterprise_id="E0001", team_id=None)
GRID_TEAM = Workspace(enterprise_id="E0001", team_id="T0003")


def test_a_sealed_value_opens_for_its_workspace_and_its_stored_form_holds_no_plaintext() -> None:
    ring = KeyRing.parse(generate_key())
    for workspace in (ACME, GRID_ORG, GRID_TEAM):
        stored = ring.seal(TOKEN, workspace)
        assert ring.open(stored, workspace) == TOKEN
        assert TOKEN not in stored and "xoxb" not in stored and "secret" not in stored
        version, kid, _ = stored.split(":")
        assert version == "v1" and kid == ring.key_ids[0]
    # A fresh nonce each time: the same token sealed twice is two different stored forms.
    assert ring.seal(TOKEN, ACME) != ring.seal(TOKEN, ACME)


def test_a_value_copied_into_another_workspace_does_not_open() -> None:
    ring = KeyRing.parse(generate_key())
    stored = ring.seal(TOKEN, ACME)
    for other in (GLOBEX, GRID_ORG, GRID_TEAM, Workspace("E0001", "T0001")):
        with pytest.raises(SealedValueError, match="another one") as refused:
            ring.open(stored, other)
        assert TOKEN not in str(refused.value) and stored not in str(refused.value)
    # Nor into another column of the same workspace.
    bot_token = ring.seal(TOKEN, ACME, "bot_token")
    assert ring.open(bot_token, ACME, "bot_token") == TOKEN
    with pytest.raises(SealedValueError):
        ring.open(bot_token, ACME, "user_token")
    # An org-wide install's value is not its workspaces' either.
    with pytest.raises(SealedValueError):
        ring.open(ring.seal(TOKEN, GRID_ORG), GRID_TEAM)


def test_an_altered_value_is_refused() -> None:
    ring = KeyRing.parse(generate_key())
    stored = ring.seal(TOKEN, ACME)
    version, kid, body = stored.split(":")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for position in (0, 12, len(raw) - 1):  # the nonce, the ciphertext, the tag
        altered = bytearray(raw)
        altered[position] ^= 0x01
        forged = f"{version}:{kid}:{base64.urlsafe_b64encode(bytes(altered)).decode()}"
        with pytest.raises(SealedValueError, match="altered"):
            ring.open(forged, ACME)
    for damaged in ("xoxb-plain-token", f"{version}:{kid}:", f"{version}:{kid}:!!!", f"v9:{kid}:{body}", ""):
        with pytest.raises(SealedValueError):
            ring.open(damaged, ACME)


def test_rotation_old_keys_still_open_and_reseal_uses_the_new_key() -> None:
    old_key, new_key = generate_key(), generate_key()
    old_ring = KeyRing.parse(old_key)
    stored = old_ring.seal(TOKEN, ACME)

    rotated = KeyRing.parse(f"{new_key}, {old_key}")
    assert rotated.open(stored, ACME) == TOKEN
    assert not rotated.sealed_by_current_key(stored)
    resealed = rotated.reseal(stored, ACME)
    assert resealed.split(":")[1] == rotated.key_ids[0] != old_ring.key_ids[0]
    assert rotated.sealed_by_current_key(resealed) and rotated.reseal(resealed, ACME) == resealed
    assert rotated.open(resealed, ACME) == TOKEN
    # New values are sealed by the first key; once the old key is dropped, the resealed value still opens...
    assert KeyRing.parse(new_key).open(resealed, ACME) == TOKEN
    # ...and a value nobody resealed says which key it needs, not what it holds.
    with pytest.raises(SealedValueError, match=old_ring.key_ids[0]) as refused:
        KeyRing.parse(new_key).open(stored, ACME)
    assert SETTING in str(refused.value)
    # Resealing never moves a value to another workspace.
    with pytest.raises(SealedValueError):
        rotated.reseal(stored, GLOBEX)


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        (None, "is not set"),
        ("  ", "is not set"),
        (base64.urlsafe_b64encode(os.urandom(16)).decode(), "decodes to 16 bytes, not 32"),
        (base64.urlsafe_b64encode(os.urandom(33)).decode(), "decodes to 33 bytes, not 32"),
        ("not base64 at all!" + "A" * 30, "is not URL-safe base64"),
        (base64.b64encode(b"\xfb" * 32).decode(), "is not URL-safe base64"),  # standard base64's + and /
        ("{key},,{key2}", "(key 2 of 3) is empty"),
        ("{key},", "(key 2 of 2) is empty"),
        ("{key},tooshort", "(key 2 of 2) decodes to"),
    ],
)
def test_a_malformed_key_is_one_clear_error_naming_the_setting_never_the_value(setting: str | None, says: str) -> None:
    if setting is not None:
        setting = setting.format(key=generate_key(), key2=generate_key())
    with pytest.raises(EncryptionKeyError) as refused:
        KeyRing.parse(setting)
    message = str(refused.value)
    assert message.startswith(SETTING) and says in message
    for item in (setting or "").split(","):
        if item.strip():
            assert item.strip() not in message


def test_the_ring_never_shows_its_keys() -> None:
    key = generate_key()
    ring = KeyRing.parse(key)
    assert key not in repr(ring) and key not in str(ring)
    assert ring.key_ids == KeyRing.parse(f"{key},{key}").key_ids  # a key given twice is one key
