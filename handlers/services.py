"""The services the listeners call, built once by the composition root (bot.runtime.app)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clients.slack import SlackGateway
from bot.domain.clock import Clock
from bot.domain.settings import Settings
from bot.features.approvals import ApprovalDesk
from bot.features.budgets import BudgetWatch
from bot.features.control import JobControl
from bot.features.defaults import DefaultsService
from bot.features.home import HomeService
from bot.features.people import NamedAnswers, People
from bot.features.presets import PresetService
from bot.features.recall import RecallService
from bot.features.remixes import RemixService
from bot.features.reports import ReportService
from bot.features.reruns import RerunService
from bot.features.takes import TakePoster
from bot.features.workspaces import WorkspaceRemoval
from bot.jobs.poller import Poller
from bot.jobs.quotas import Quotas
from bot.jobs.service import JobService
from storage.db import Store


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    jobs: JobService
    poller: Poller
    slack: SlackGateway
    people: People
    named: NamedAnswers  # answers naming many people: the ack now, every name through response_url soon
    reruns: RerunService
    remixes: RemixService
    recall: RecallService
    reports: ReportService
    clock: Clock
    quotas: Quotas
    control: JobControl
    home: HomeService
    budgets: BudgetWatch
    approvals: ApprovalDesk
    defaults: DefaultsService
    presets: PresetService
    takes: TakePoster
    workspaces: WorkspaceRemoval  # a workspace uninstalls or revokes the app (issue 25)
