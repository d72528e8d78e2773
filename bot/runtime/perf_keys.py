"""The key ring and the Perf keys, built from the settings in one place (`videobot run` and the CLI).

The ring comes from VIDEOBOT_ENCRYPTION_KEY (`Settings.encryption_key`); without it no workspace can have a
key of its own (none could be opened), and the operator's PERF_API_KEY pays for every job.
"""

from __future__ import annotations

from bot.domain.clock import Clock
from bot.domain.settings import Settings
from bot.jobs.perf_keys import PerfKeys
from bot.jobs.workspace_settings import WorkspaceSettings
from storage.base import StoreBase
from storage.secrets import KeyRing, generate_key
from storage.workspaces import WorkspaceStore


def key_ring(settings: Settings) -> KeyRing | None:
    """The ring of VIDEOBOT_ENCRYPTION_KEY, None when it is not set; EncryptionKeyError when it is malformed."""
    return KeyRing.parse(settings.encryption_key) if settings.encryption_key.strip() else None


def perf_keys(settings: Settings, store: StoreBase, clock: Clock) -> PerfKeys:
    ring = key_ring(settings)
    return PerfKeys(settings.perf_api_key, WorkspaceStore(store, ring) if ring is not None else None, clock)


def workspace_settings(settings: Settings, store: StoreBase, clock: Clock) -> WorkspaceSettings:
    ring = key_ring(settings)
    return WorkspaceSettings(settings, WorkspaceStore(store, ring) if ring is not None else None, clock)


def forgetting_store(settings: Settings, store: StoreBase) -> WorkspaceStore:
    """What deletes a workspace's data (the maintenance run, after an uninstall): it opens no secret, so a ring
    of a throwaway key serves it where VIDEOBOT_ENCRYPTION_KEY is not set."""
    return WorkspaceStore(store, key_ring(settings) or KeyRing.parse(generate_key()))
