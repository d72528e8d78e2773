"""What a running bot holds: the listeners' services, and what only the runtime uses."""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.maintenance import Maintenance
from bot.runtime.installs import Installs
from bot.runtime.metrics import Metrics
from handlers.services import Services


@dataclass(frozen=True)
class RunningServices(Services):
    """The listeners' services, the metrics behind `/metrics`, and the poller's maintenance run."""

    metrics: Metrics
    maintenance: Maintenance
    # Many workspaces: the install flow, the installations, each workspace's cached token (None: one workspace).
    installs: Installs | None = None
