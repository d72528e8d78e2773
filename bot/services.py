"""The services the listeners call, built once by the composition root (bot.app)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.control import JobControl
from bot.home import HomeService
from bot.jobs import Clock, JobService
from bot.metrics import Metrics
from bot.people import People
from bot.poller import Poller
from bot.quotas import Quotas
from bot.reports import ReportService
from bot.reruns import RerunService
from bot.slack import SlackGateway
from storage.db import Store


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    jobs: JobService
    poller: Poller
    slack: SlackGateway
    people: People
    reruns: RerunService
    reports: ReportService
    clock: Clock
    metrics: Metrics
    quotas: Quotas
    control: JobControl
    home: HomeService
