"""The schema's history: each migration, in the order it shipped, and the step that applies the missing ones.

Both engines run these same scripts; `storage/engine.py` gives them PostgreSQL's types. A migration is
history: what shipped keeps doing exactly what it did, literal SQL and all, so none is ever edited for what
it does (migration 8 was rewritten once for speed alone, its result checked against the old statement), and
none takes its words from code that may change (the job states of `bot/domain` included).
"""

from __future__ import annotations

import logging
import time

from storage.engine import Engine

log = logging.getLogger("videobot.storage")

# Each entry moves the schema one version forward; never edit one that has shipped, add another.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        team_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        prompt TEXT NOT NULL,
        model TEXT NOT NULL,
        duration_seconds TEXT NOT NULL,
        resolution TEXT NOT NULL,
        aspect_ratio TEXT NOT NULL,
        estimated_cost_micros INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        response_url TEXT NOT NULL DEFAULT '',
        next_poll_at REAL,
        root_ts TEXT,
        progress_ts TEXT,
        perf_job_id TEXT UNIQUE,
        submitted_at REAL,
        progress_percent INTEGER,
        eta_seconds INTEGER,
        poll_failures INTEGER NOT NULL DEFAULT 0,
        video_url TEXT,
        perf_cost_micros INTEGER,
        generation_ms INTEGER,
        completed_at REAL,
        upload_file_id TEXT,
        upload_sent INTEGER NOT NULL DEFAULT 0,
        file_shared INTEGER NOT NULL DEFAULT 0,
        delivered_as_link INTEGER NOT NULL DEFAULT 0,
        delivery_note TEXT,
        delivered_at REAL,
        error_message TEXT,
        finalized INTEGER NOT NULL DEFAULT 0
    );
    -- The poller asks only for due jobs; finished jobs have no next_poll_at and stay out of the index.
    CREATE INDEX jobs_due ON jobs (next_poll_at) WHERE next_poll_at IS NOT NULL;
    CREATE INDEX jobs_channel_created ON jobs (channel_id, created_at);
    CREATE TABLE job_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL REFERENCES jobs (id),
        at REAL NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX job_events_job ON job_events (job_id, id);
    """,
    """
    ALTER TABLE jobs ADD COLUMN rerun_of TEXT REFERENCES jobs (id);
    ALTER TABLE jobs ADD COLUMN rerun_link TEXT;
    -- A reaction or a button click names a message; this finds its job.
    CREATE UNIQUE INDEX jobs_root ON jobs (channel_id, root_ts) WHERE root_ts IS NOT NULL;
    -- What started a job, when something could ask twice (a redelivered event, a re-added reaction).
    -- The key is unique, so one trigger can start at most one job, ever.
    CREATE TABLE job_triggers (
        trigger TEXT PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES jobs (id),
        at REAL NOT NULL
    );
    """,
    """
    ALTER TABLE jobs ADD COLUMN queue_position INTEGER;
    -- The account's line: who waits, in arrival order, and how many hold a slot at Perf.
    CREATE INDEX jobs_queue ON jobs (created_at) WHERE state IN ('accepted', 'queued');
    CREATE INDEX jobs_in_flight ON jobs (state) WHERE state IN ('submitting', 'pending', 'processing');
    CREATE INDEX jobs_user_created ON jobs (user_id, created_at);
    -- A channel's own limits, set from Slack by an admin. NULL: the configured default; 0: no limit.
    CREATE TABLE channel_limits (
        channel_id TEXT PRIMARY KEY,
        daily_jobs INTEGER,
        daily_budget_micros INTEGER,
        set_by TEXT NOT NULL,
        set_at REAL NOT NULL
    );
    -- One row per report and day, written before it is posted: a day's report goes out once, ever.
    CREATE TABLE daily_reports (
        scope TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        day TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        message_ts TEXT,
        PRIMARY KEY (scope, channel_id, day)
    );
    """,
    """
    -- Signatures of requests already taken: a copy replayed within Slack's 5-minute window is refused.
    CREATE TABLE seen_requests (
        signature TEXT PRIMARY KEY,
        at REAL NOT NULL
    );
    CREATE INDEX seen_requests_at ON seen_requests (at);
    """,
    """
    ALTER TABLE jobs ADD COLUMN progress_at REAL;
    ALTER TABLE jobs ADD COLUMN perf_poll_due REAL;
    """,
    """
    ALTER TABLE jobs ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN post_channel_id TEXT;
    CREATE INDEX jobs_root_ts ON jobs (root_ts) WHERE root_ts IS NOT NULL;
    """,
    """
    -- People who opened the bot's App Home: their tab is republished when one of their jobs moves.
    CREATE TABLE home_viewers (
        user_id TEXT PRIMARY KEY,
        opened_at REAL NOT NULL
    );
    """,
    """
    -- Arrival order, the same on every engine (SQLite's rowid has no PostgreSQL twin): the queue's order.
    ALTER TABLE jobs ADD COLUMN arrival INTEGER;
    -- Each job's rank by (created_at, id). Shipped as a correlated COUNT(*) per row (quadratic: 83 s at 20k
    -- jobs); numbered in one sorted pass instead, the numbers are the same (tests/test_migrations.py).
    CREATE TEMP TABLE numbered_arrivals (id TEXT PRIMARY KEY, arrival INTEGER NOT NULL);
    INSERT INTO numbered_arrivals (id, arrival) SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) FROM jobs;
    UPDATE jobs SET arrival = (SELECT n.arrival FROM numbered_arrivals AS n WHERE n.id = jobs.id);
    DROP TABLE numbered_arrivals;
    CREATE UNIQUE INDEX jobs_arrival ON jobs (arrival);
    CREATE INDEX jobs_waiting ON jobs (arrival) WHERE state IN ('accepted', 'queued');
    -- Who is working on a job right now, and until when: one replica at a time advances a job.
    ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
    ALTER TABLE jobs ADD COLUMN lease_until REAL;
    CREATE INDEX jobs_leased ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
    -- The next moment a job no replica holds is due: what the poller sets its timer by.
    CREATE INDEX jobs_due_free ON jobs (next_poll_at) WHERE next_poll_at IS NOT NULL AND lease_owner IS NULL;
    """,
    """
    -- A job's progress message is posted off the job's steps (it may wait for the channel's pace): whoever
    -- posts it claims it until this moment, so two replicas never both post one.
    ALTER TABLE jobs ADD COLUMN progress_post_claimed_until REAL;
    """,
    """
    -- A job started from a message in a thread ("Make a video of this") posts its root in that thread.
    ALTER TABLE jobs ADD COLUMN thread_ts TEXT;
    """,
    """
    -- A job started by a Workflow Builder step ends that step, once, when the job ends.
    ALTER TABLE jobs ADD COLUMN step_execution_id TEXT;
    ALTER TABLE jobs ADD COLUMN step_token TEXT;
    ALTER TABLE jobs ADD COLUMN step_done INTEGER NOT NULL DEFAULT 0;
    """,
    """
    -- Reads whose cost must not grow with history (issue 17). Unfinished jobs, all and per channel, in the
    -- order `videobot check`, `videobot jobs` and `/video status` list them: only unfinished jobs are in
    -- these, so they stay as small as the work in progress.
    CREATE INDEX jobs_open ON jobs (created_at, arrival)
        WHERE state IN ('accepted', 'queued', 'submitting', 'pending', 'processing', 'complete');
    CREATE INDEX jobs_open_channel ON jobs (channel_id, created_at, arrival)
        WHERE state IN ('accepted', 'queued', 'submitting', 'pending', 'processing', 'complete');
    -- A time range in arrival order: a day's summary and usage, `videobot jobs --since`, without a sort.
    CREATE INDEX jobs_created ON jobs (created_at, arrival);
    -- The claims a restarted SQLite process clears: a handful at most, never the history.
    CREATE INDEX jobs_progress_claimed ON jobs (progress_post_claimed_until)
        WHERE progress_post_claimed_until IS NOT NULL;
    -- Jobs by state, and how many of them Perf accepted, kept in the transactions that insert a job or
    -- change its state: what /metrics shows, read without counting the table.
    CREATE TABLE job_counts (
        state TEXT PRIMARY KEY,
        jobs INTEGER NOT NULL,
        submitted INTEGER NOT NULL
    );
    INSERT INTO job_counts (state, jobs, submitted)
        SELECT state, COUNT(*), COUNT(perf_job_id) FROM jobs GROUP BY state;
    """,
    """
    -- Budgets in money (issue 19): a channel's monthly budget, the day each job's cost counts in, what was
    -- spent a day per workspace, channel, person and model, and the 80% notices claimed once per period.
    ALTER TABLE channel_limits ADD COLUMN monthly_budget_micros INTEGER;
    ALTER TABLE jobs ADD COLUMN spend_day REAL;
    -- New jobs get the start of their day in VIDEOBOT_TIMEZONE at admission; SQL does not know the zone,
    -- so the jobs stored before count in their UTC day.
    UPDATE jobs SET spend_day = CAST(CAST(created_at AS BIGINT) / 86400 * 86400 AS REAL);
    -- Kept in the transactions that store a job or change what it holds (storage/spend.py): the jobs that
    -- hold quota (Perf accepted them, or they are not failed or cancelled) and their charged or estimated cost.
    CREATE TABLE spend_days (
        scope TEXT NOT NULL,
        scope_id TEXT NOT NULL,
        day REAL NOT NULL,
        jobs BIGINT NOT NULL,
        cost_micros BIGINT NOT NULL,
        PRIMARY KEY (scope, scope_id, day)
    );
    -- A month of one scope by id (`/video report month`), the month's rows alone.
    CREATE INDEX spend_days_period ON spend_days (scope, day, scope_id);
    INSERT INTO spend_days (scope, scope_id, day, jobs, cost_micros)
        SELECT 'workspace', '', spend_day, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros))
        FROM jobs WHERE perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled') GROUP BY spend_day;
    INSERT INTO spend_days (scope, scope_id, day, jobs, cost_micros)
        SELECT 'channel', channel_id, spend_day, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros))
        FROM jobs WHERE perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled')
        GROUP BY channel_id, spend_day;
    INSERT INTO spend_days (scope, scope_id, day, jobs, cost_micros)
        SELECT 'user', user_id, spend_day, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros))
        FROM jobs WHERE perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled')
        GROUP BY user_id, spend_day;
    INSERT INTO spend_days (scope, scope_id, day, jobs, cost_micros)
        SELECT 'model', model, spend_day, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros))
        FROM jobs WHERE perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled')
        GROUP BY model, spend_day;
    CREATE TABLE budget_notices (
        budget TEXT NOT NULL,
        scope_id TEXT NOT NULL,
        period TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        message_ts TEXT,
        PRIMARY KEY (budget, scope_id, period)
    );
    """,
    """
    -- Approval for expensive jobs (issue 19): a job over VIDEOBOT_APPROVAL_OVER_USD waits in the state
    -- 'awaiting_approval' for a decision, stored with it: which, by whom, when, the denial's reason, and
    -- whether the approvers' copies of the request still show their buttons.
    ALTER TABLE jobs ADD COLUMN approval TEXT;
    ALTER TABLE jobs ADD COLUMN approval_by TEXT;
    ALTER TABLE jobs ADD COLUMN approval_at REAL;
    ALTER TABLE jobs ADD COLUMN approval_note TEXT;
    ALTER TABLE jobs ADD COLUMN approval_edits_due INTEGER NOT NULL DEFAULT 0;
    -- Each copy of a request (the approval channel's, or one direct message per approver), so that every
    -- copy is edited to show who decided; a job's copies are deleted once edited.
    CREATE TABLE approval_copies (
        job_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        ts TEXT NOT NULL,
        PRIMARY KEY (job_id, channel_id)
    );
    -- The unfinished jobs now include those awaiting approval: migration 12's partial indexes jobs_open and
    -- jobs_open_channel again, with the new state in its place in the list (SQLite uses them only for a WHERE
    -- with the same list, in the same order).
    DROP INDEX jobs_open;
    DROP INDEX jobs_open_channel;
    CREATE INDEX jobs_open ON jobs (created_at, arrival)
        WHERE state IN ('accepted', 'awaiting_approval', 'queued', 'submitting', 'pending', 'processing', 'complete');
    CREATE INDEX jobs_open_channel ON jobs (channel_id, created_at, arrival)
        WHERE state IN ('accepted', 'awaiting_approval', 'queued', 'submitting', 'pending', 'processing', 'complete');
    """,
    """
    -- Defaults that stick (issue 18): a channel's and a person's, and what a job keeps of them and of a draft.
    CREATE TABLE video_defaults (
        scope TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        options TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at REAL NOT NULL,
        PRIMARY KEY (scope, owner_id)
    );
    ALTER TABLE jobs ADD COLUMN style TEXT;
    ALTER TABLE jobs ADD COLUMN full_settings TEXT;
    ALTER TABLE jobs ADD COLUMN full_of_draft INTEGER NOT NULL DEFAULT 0;
    """,
    """
    -- Remix and recall (issue 18). A remix is a job started from another one's settings, changed in the
    -- form: rerun_of names that job, and this says it was a remix rather than the same prompt again.
    ALTER TABLE jobs ADD COLUMN remix INTEGER NOT NULL DEFAULT 0;
    -- The words of each job's prompt, by person, newest first: /video history finds a person's jobs
    -- with some words through this key, however many jobs there are. Written by the job's first step;
    -- jobs stored before this migration are listed by /video history without words only.
    CREATE TABLE job_words (
        user_id TEXT NOT NULL,
        word TEXT NOT NULL,
        created_at REAL NOT NULL,
        job_id TEXT NOT NULL REFERENCES jobs (id),
        PRIMARY KEY (user_id, word, created_at, job_id)
    );
    """,
    """
    -- Team practice (issue 28). A take posted again elsewhere, once per job and kind: 'showcase' (a star or
    -- the button, to VIDEOBOT_SHOWCASE_CHANNEL) or 'share' (a private take shared in the channel it was
    -- asked from). Claimed before the post (claimed_at, a lease: a claim not finished is taken over once it
    -- is older than the lease), then the message it became (message_ts), then the video uploaded under it
    -- (video_done: uploaded, or given up on: the message links to it).
    CREATE TABLE take_posts (
        kind TEXT NOT NULL,
        job_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        by_user TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        message_ts TEXT,
        posted_at REAL,
        video_done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (kind, job_id)
    );
    -- App Home's latest showcased takes.
    CREATE INDEX take_posts_latest ON take_posts (kind, posted_at);
    -- Presets: named recipes of settings, a person's own or a channel's, stored as their options.
    CREATE TABLE video_presets (
        scope TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        name TEXT NOT NULL,
        options TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at REAL NOT NULL,
        PRIMARY KEY (scope, owner_id, name)
    );
    """,
    """
    -- The fair line (issue 28): each party's jobs in line and at Perf, and its turn (bot/domain/line.py).
    -- Kept beside the jobs in the transactions that move them, like job_counts: the next slot's party is
    -- the first row of line_parties_next, whatever the number of jobs waiting. The party is the person
    -- (bot.domain.line.PARTY_COLUMN); jobs_party_waiting gives a party's jobs in line in arrival order.
    CREATE TABLE line_parties (
        party TEXT PRIMARY KEY,
        waiting INTEGER NOT NULL DEFAULT 0,
        running INTEGER NOT NULL DEFAULT 0,
        turn BIGINT NOT NULL
    );
    CREATE INDEX line_parties_next ON line_parties (running, turn) WHERE waiting > 0;
    CREATE INDEX line_parties_turn ON line_parties (turn);
    CREATE INDEX jobs_party_waiting ON jobs (user_id, arrival) WHERE state IN ('accepted', 'queued');
    INSERT INTO line_parties (party, waiting, running, turn)
        SELECT user_id,
            SUM(CASE WHEN state IN ('accepted', 'queued') THEN 1 ELSE 0 END),
            SUM(CASE WHEN state IN ('submitting', 'pending', 'processing') THEN 1 ELSE 0 END),
            MIN(arrival) - 1099511627776
        FROM jobs WHERE state IN ('accepted', 'queued', 'submitting', 'pending', 'processing')
        GROUP BY user_id;
    """,
    """
    -- One prompt on several models (issue 28): each take of a comparison names them all, and its total.
    ALTER TABLE jobs ADD COLUMN comparison TEXT;
    ALTER TABLE jobs ADD COLUMN comparison_cost_micros BIGINT;
    """,
    """
    -- Each replica's last write that succeeded (issue 29): /healthz goes unhealthy when writes fail,
    -- a full disk for instance, however healthy a read looks.
    CREATE TABLE replica_heartbeats (
        replica TEXT PRIMARY KEY,
        at REAL NOT NULL
    );
    """,
    """
    -- Finished jobs keep no secrets: a command's response_url and a workflow step's token are cleared once
    -- the job is finalized (issue 29); this clears those of the jobs finalized before.
    UPDATE jobs SET response_url = '', step_token = NULL
        WHERE finalized = 1 AND (response_url <> '' OR step_token IS NOT NULL);
    """,
    """
    -- Many workspaces (issue 25): installations, their bots and OAuth states (storage/installations.py).
    -- An absent enterprise or team is '' (an org-wide install has no team), so the keys hold no NULL.
    -- Tokens, refresh tokens and webhook URLs are sealed (storage/secrets.py), never stored in clear;
    -- `details` is the rest of slack_sdk's Installation as JSON (names, ids, scopes: nothing secret).
    CREATE TABLE slack_installations (
        enterprise_id TEXT NOT NULL,
        team_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        is_enterprise_install INTEGER NOT NULL,
        installed_at REAL NOT NULL,
        bot_token TEXT,
        bot_refresh_token TEXT,
        bot_token_expires_at INTEGER,
        user_token TEXT,
        user_refresh_token TEXT,
        user_token_expires_at INTEGER,
        incoming_webhook_url TEXT,
        details TEXT NOT NULL,
        PRIMARY KEY (enterprise_id, team_id, user_id)
    );
    -- A workspace's latest installation, whoever installed it.
    CREATE INDEX slack_installations_latest ON slack_installations (enterprise_id, team_id, installed_at);
    CREATE TABLE slack_bots (
        enterprise_id TEXT NOT NULL,
        team_id TEXT NOT NULL,
        is_enterprise_install INTEGER NOT NULL,
        installed_at REAL NOT NULL,
        bot_token TEXT NOT NULL,
        bot_refresh_token TEXT,
        bot_token_expires_at INTEGER,
        details TEXT NOT NULL,
        PRIMARY KEY (enterprise_id, team_id)
    );
    -- An install begun on one replica completes on any: each state once, until it expires (its digest only).
    CREATE TABLE oauth_states (
        state_digest TEXT PRIMARY KEY,
        expires_at REAL NOT NULL
    );
    CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
    """,
    """
    -- Every row belongs to one workspace (issue 25): each per-workspace table gains team_id, first in its keys.
    -- Rows tied to a job take its team; the others take the deployment's one workspace when the jobs name
    -- exactly one, else '' until the next start in single-workspace mode fills them from auth.test's team
    -- (Store.adopt_rows). Summaries kept beside the jobs (job_counts, spend_days) are summed again per team.
    CREATE TEMP TABLE rows_workspace AS
        SELECT CASE WHEN COUNT(DISTINCT team_id) = 1 THEN MIN(team_id) ELSE '' END AS team_id FROM jobs;
    CREATE TABLE channel_limits_v2 (
        team_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        daily_jobs INTEGER,
        daily_budget_micros INTEGER,
        set_by TEXT NOT NULL,
        set_at REAL NOT NULL,
        monthly_budget_micros INTEGER,
        PRIMARY KEY (team_id, channel_id)
    );
    INSERT INTO channel_limits_v2
        (team_id, channel_id, daily_jobs, daily_budget_micros, set_by, set_at, monthly_budget_micros)
        SELECT w.team_id, c.channel_id, c.daily_jobs, c.daily_budget_micros, c.set_by, c.set_at,
            c.monthly_budget_micros
        FROM channel_limits AS c CROSS JOIN rows_workspace AS w;
    DROP TABLE channel_limits;
    ALTER TABLE channel_limits_v2 RENAME TO channel_limits;
    CREATE TABLE daily_reports_v2 (
        team_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        day TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        message_ts TEXT,
        PRIMARY KEY (team_id, scope, channel_id, day)
    );
    INSERT INTO daily_reports_v2 (team_id, scope, channel_id, day, claimed_at, message_ts)
        SELECT w.team_id, r.scope, r.channel_id, r.day, r.claimed_at, r.message_ts
        FROM daily_reports AS r CROSS JOIN rows_workspace AS w;
    DROP TABLE daily_reports;
    ALTER TABLE daily_reports_v2 RENAME TO daily_reports;
    CREATE TABLE home_viewers_v2 (
        team_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        opened_at REAL NOT NULL,
        PRIMARY KEY (team_id, user_id)
    );
    INSERT INTO home_viewers_v2 (team_id, user_id, opened_at)
        SELECT w.team_id, h.user_id, h.opened_at FROM home_viewers AS h CROSS JOIN rows_workspace AS w;
    DROP TABLE home_viewers;
    ALTER TABLE home_viewers_v2 RENAME TO home_viewers;
    CREATE TABLE budget_notices_v2 (
        team_id TEXT NOT NULL,
        budget TEXT NOT NULL,
        scope_id TEXT NOT NULL,
        period TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        message_ts TEXT,
        PRIMARY KEY (team_id, budget, scope_id, period)
    );
    INSERT INTO budget_notices_v2 (team_id, budget, scope_id, period, claimed_at, message_ts)
        SELECT w.team_id, b.budget, b.scope_id, b.period, b.claimed_at, b.message_ts
        FROM budget_notices AS b CROSS JOIN rows_workspace AS w;
    DROP TABLE budget_notices;
    ALTER TABLE budget_notices_v2 RENAME TO budget_notices;
    CREATE TABLE video_defaults_v2 (
        team_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        options TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at REAL NOT NULL,
        PRIMARY KEY (team_id, scope, owner_id)
    );
    INSERT INTO video_defaults_v2 (team_id, scope, owner_id, options, set_by, set_at)
        SELECT w.team_id, d.scope, d.owner_id, d.options, d.set_by, d.set_at
        FROM video_defaults AS d CROSS JOIN rows_workspace AS w;
    DROP TABLE video_defaults;
    ALTER TABLE video_defaults_v2 RENAME TO video_defaults;
    CREATE TABLE video_presets_v2 (
        team_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        name TEXT NOT NULL,
        options TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at REAL NOT NULL,
        PRIMARY KEY (team_id, scope, owner_id, name)
    );
    INSERT INTO video_presets_v2 (team_id, scope, owner_id, name, options, set_by, set_at)
        SELECT w.team_id, p.scope, p.owner_id, p.name, p.options, p.set_by, p.set_at
        FROM video_presets AS p CROSS JOIN rows_workspace AS w;
    DROP TABLE video_presets;
    ALTER TABLE video_presets_v2 RENAME TO video_presets;
    -- Tied to a job: its team.
    CREATE TABLE approval_copies_v2 (
        team_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        ts TEXT NOT NULL,
        PRIMARY KEY (team_id, job_id, channel_id)
    );
    INSERT INTO approval_copies_v2 (team_id, job_id, channel_id, ts)
        SELECT j.team_id, a.job_id, a.channel_id, a.ts FROM approval_copies AS a JOIN jobs AS j ON j.id = a.job_id;
    DROP TABLE approval_copies;
    ALTER TABLE approval_copies_v2 RENAME TO approval_copies;
    CREATE TABLE job_words_v2 (
        team_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        word TEXT NOT NULL,
        created_at REAL NOT NULL,
        job_id TEXT NOT NULL REFERENCES jobs (id),
        PRIMARY KEY (team_id, user_id, word, created_at, job_id)
    );
    INSERT INTO job_words_v2 (team_id, user_id, word, created_at, job_id)
        SELECT j.team_id, w.user_id, w.word, w.created_at, w.job_id
        FROM job_words AS w JOIN jobs AS j ON j.id = w.job_id;
    DROP TABLE job_words;
    ALTER TABLE job_words_v2 RENAME TO job_words;
    CREATE TABLE take_posts_v2 (
        team_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        job_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        by_user TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        message_ts TEXT,
        posted_at REAL,
        video_done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (team_id, kind, job_id)
    );
    INSERT INTO take_posts_v2
        (team_id, kind, job_id, channel_id, by_user, claimed_at, message_ts, posted_at, video_done)
        SELECT j.team_id, t.kind, t.job_id, t.channel_id, t.by_user, t.claimed_at, t.message_ts, t.posted_at,
            t.video_done
        FROM take_posts AS t JOIN jobs AS j ON j.id = t.job_id;
    DROP TABLE take_posts;
    ALTER TABLE take_posts_v2 RENAME TO take_posts;
    CREATE INDEX take_posts_latest ON take_posts (team_id, kind, posted_at);
    CREATE TABLE job_triggers_v2 (
        team_id TEXT NOT NULL,
        trigger TEXT NOT NULL,
        job_id TEXT NOT NULL REFERENCES jobs (id),
        at REAL NOT NULL,
        PRIMARY KEY (team_id, trigger)
    );
    INSERT INTO job_triggers_v2 (team_id, trigger, job_id, at)
        SELECT j.team_id, t.trigger, t.job_id, t.at FROM job_triggers AS t JOIN jobs AS j ON j.id = t.job_id;
    DROP TABLE job_triggers;
    ALTER TABLE job_triggers_v2 RENAME TO job_triggers;
    -- Summed again from the jobs, per team, as migrations 12 and 13 first summed them.
    CREATE TABLE job_counts_v2 (
        team_id TEXT NOT NULL,
        state TEXT NOT NULL,
        jobs INTEGER NOT NULL,
        submitted INTEGER NOT NULL,
        PRIMARY KEY (team_id, state)
    );
    INSERT INTO job_counts_v2 (team_id, state, jobs, submitted)
        SELECT team_id, state, COUNT(*), COUNT(perf_job_id) FROM jobs GROUP BY team_id, state;
    DROP TABLE job_counts;
    ALTER TABLE job_counts_v2 RENAME TO job_counts;
    CREATE TABLE spend_days_v2 (
        team_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        scope_id TEXT NOT NULL,
        day REAL NOT NULL,
        jobs BIGINT NOT NULL,
        cost_micros BIGINT NOT NULL,
        PRIMARY KEY (team_id, scope, scope_id, day)
    );
    INSERT INTO spend_days_v2 (team_id, scope, scope_id, day, jobs, cost_micros)
        SELECT team_id, 'workspace', '', spend_day, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros))
        FROM jobs WHERE spend_day IS NOT NULL AND (perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled'))
        GROUP BY team_id, spend_day;
    INSERT INTO spend_days_v2 (team_id, scope, scope_id, day, jobs, cost_micros)
        SELECT team_id, 'channel', channel_id, spend_day, COUNT(*),
            SUM(COALESCE(perf_cost_micros, estimated_cost_micros))
        FROM jobs WHERE spend_day IS NOT NULL AND (perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled'))
        GROUP BY team_id, channel_id, spend_day;
    INSERT INTO spend_days_v2 (team_id, scope, scope_id, day, jobs, cost_micros)
        SELECT team_id, 'user', user_id, spend_day, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros))
        FROM jobs WHERE spend_day IS NOT NULL AND (perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled'))
        GROUP BY team_id, user_id, spend_day;
    INSERT INTO spend_days_v2 (team_id, scope, scope_id, day, jobs, cost_micros)
        SELECT team_id, 'model', model, spend_day, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros))
        FROM jobs WHERE spend_day IS NOT NULL AND (perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled'))
        GROUP BY team_id, model, spend_day;
    DROP TABLE spend_days;
    ALTER TABLE spend_days_v2 RENAME TO spend_days;
    CREATE INDEX spend_days_period ON spend_days (team_id, scope, day, scope_id);
    -- The fair line's parties are people of a workspace (bot.domain.line.party_of: team and person). One
    -- workspace's line is the same line, its parties renamed; with several, each person of a workspace with
    -- work in progress, keeping the turn the person had.
    CREATE TABLE line_parties_v2 (
        party TEXT PRIMARY KEY,
        waiting INTEGER NOT NULL DEFAULT 0,
        running INTEGER NOT NULL DEFAULT 0,
        turn BIGINT NOT NULL
    );
    INSERT INTO line_parties_v2 (party, waiting, running, turn)
        SELECT w.team_id || ':' || p.party, p.waiting, p.running, p.turn
        FROM line_parties AS p CROSS JOIN rows_workspace AS w WHERE w.team_id <> '';
    INSERT INTO line_parties_v2 (party, waiting, running, turn)
        SELECT j.team_id || ':' || j.user_id,
            SUM(CASE WHEN j.state IN ('accepted', 'queued') THEN 1 ELSE 0 END),
            SUM(CASE WHEN j.state IN ('submitting', 'pending', 'processing') THEN 1 ELSE 0 END),
            COALESCE(MIN(p.turn), MIN(j.arrival) - 1099511627776)
        FROM jobs AS j LEFT JOIN line_parties AS p ON p.party = j.user_id
        WHERE j.state IN ('accepted', 'queued', 'submitting', 'pending', 'processing')
            AND (SELECT team_id FROM rows_workspace) = ''
        GROUP BY j.team_id, j.user_id;
    DROP TABLE line_parties;
    ALTER TABLE line_parties_v2 RENAME TO line_parties;
    CREATE INDEX line_parties_next ON line_parties (running, turn) WHERE waiting > 0;
    CREATE INDEX line_parties_turn ON line_parties (turn);
    DROP INDEX jobs_party_waiting;
    CREATE INDEX jobs_party_waiting ON jobs (team_id, user_id, arrival) WHERE state IN ('accepted', 'queued');
    DROP TABLE rows_workspace;
    -- The jobs' indexes that a workspace's reads go through lead with it: a channel's, a person's, a day's.
    DROP INDEX jobs_channel_created;
    CREATE INDEX jobs_channel_created ON jobs (team_id, channel_id, created_at);
    DROP INDEX jobs_user_created;
    CREATE INDEX jobs_user_created ON jobs (team_id, user_id, created_at);
    DROP INDEX jobs_root;
    CREATE UNIQUE INDEX jobs_root ON jobs (team_id, channel_id, root_ts) WHERE root_ts IS NOT NULL;
    DROP INDEX jobs_open_channel;
    CREATE INDEX jobs_open_channel ON jobs (team_id, channel_id, created_at, arrival)
        WHERE state IN ('accepted', 'awaiting_approval', 'queued', 'submitting', 'pending', 'processing', 'complete');
    CREATE INDEX jobs_team_created ON jobs (team_id, created_at, arrival);
    """,
    """
    -- Languages (issue 26): each person's Slack locale, asked at most once a day; and the languages a job
    -- started with, so that its later edits never switch language halfway (its messages', its requester's).
    CREATE TABLE people_locales (
        team_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        locale TEXT NOT NULL,
        fetched_at REAL NOT NULL,
        PRIMARY KEY (team_id, user_id)
    );
    ALTER TABLE jobs ADD COLUMN language TEXT;
    ALTER TABLE jobs ADD COLUMN person_language TEXT;
    """,
    """
    -- Each workspace's own Perf key and settings (issue 25, storage/workspaces.py). The key is sealed with
    -- purpose 'perf_key' (storage/secrets.py), never stored in clear; its last four characters are what App
    -- Home shows of it. A workspace's settings override the operator's defaults, one row a setting.
    CREATE TABLE workspace_perf_keys (
        enterprise_id TEXT NOT NULL,
        team_id TEXT NOT NULL,
        sealed_key TEXT NOT NULL,
        last_four TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at REAL NOT NULL,
        PRIMARY KEY (enterprise_id, team_id)
    );
    -- A job knows its team only: its key is found by team.
    CREATE INDEX workspace_perf_keys_team ON workspace_perf_keys (team_id);
    CREATE TABLE workspace_settings (
        enterprise_id TEXT NOT NULL,
        team_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at REAL NOT NULL,
        PRIMARY KEY (enterprise_id, team_id, name)
    );
    CREATE INDEX workspace_settings_team ON workspace_settings (team_id);
    """,
    """
    -- One account line per Perf key (issue 25, bot/domain/line.py): Perf's limits are per key. A job's line
    -- is '' for the operator's PERF_API_KEY, else the team whose own key pays; each line has its slots and
    -- its turns. A party in line_parties is named 'line:team:user' (bot.domain.line.PARTY_COLUMNS).
    ALTER TABLE jobs ADD COLUMN line TEXT NOT NULL DEFAULT '';
    ALTER TABLE line_parties ADD COLUMN line TEXT NOT NULL DEFAULT '';
    UPDATE line_parties SET party = ':' || party;
    DROP INDEX line_parties_next;
    CREATE INDEX line_parties_next ON line_parties (line, running, turn) WHERE waiting > 0;
    DROP INDEX jobs_party_waiting;
    CREATE INDEX jobs_party_waiting ON jobs (line, team_id, user_id, arrival) WHERE state IN ('accepted', 'queued');
    CREATE INDEX jobs_line_in_flight ON jobs (line) WHERE state IN ('submitting', 'pending', 'processing');
    """,
    """
    -- A job's Enterprise Grid org (issue 25; '' outside Grid): its later work (polls, delivery, reports) finds
    -- an org-wide install's token from the job itself, after any restart, and an org-wide uninstall ends the
    -- unfinished jobs of every workspace of the org (jobs_org_unfinished: the org's open jobs alone).
    ALTER TABLE jobs ADD COLUMN enterprise_id TEXT NOT NULL DEFAULT '';
    CREATE INDEX jobs_org_unfinished ON jobs (enterprise_id, created_at, id)
        WHERE enterprise_id <> '' AND finalized = 0;
    """,
    """
    -- A workspace's own retention (issue 25, storage/maintenance.py): how far back its jobs' events are already
    -- cleared (a run reads only the jobs created since), and when a workspace removed videobot: its history
    -- is deleted once its retention period has passed since then, unless it installed videobot again.
    CREATE TABLE retention_marks (
        team_id TEXT PRIMARY KEY,
        cleared_before REAL NOT NULL
    );
    CREATE TABLE workspace_departures (
        enterprise_id TEXT NOT NULL,
        team_id TEXT NOT NULL,
        left_at REAL NOT NULL,
        PRIMARY KEY (enterprise_id, team_id)
    );
    """,
    """
    -- Slack's pace shared by replicas (issue 27): each workspace's lane (a method, a channel's posts) as a GCRA
    -- bucket, its theoretical arrival time and a 429's hold in the database's own clock (epoch seconds).
    CREATE TABLE slack_buckets (
        bucket TEXT PRIMARY KEY,
        tat REAL NOT NULL,
        held_until REAL NOT NULL DEFAULT 0
    );
    """,
)


async def migrate(engine: Engine) -> list[int]:
    """Bring the schema up to date; the versions this call applied (none if another did it first).

    Each migration is logged as it starts (which one, of how many, on how many jobs, and what it does) and
    as it ends (how long it took): an upgrade of a large database shows where it is.
    """
    running: list[tuple[int, float]] = []  # the migration in progress, and when it started

    async def on_step(version: int, last: int) -> None:
        if running:
            _log_finished(*running.pop(), engine)
        else:
            jobs = await job_count(engine) if await engine.has_table("jobs") else 0
            log.info("event=migrating from_version=%d to_version=%d jobs=%d", version - 1, last, jobs)
        running.append((version, time.monotonic()))
        log.info('event=migration_started schema_version=%d of=%d what="%s"', version, last, _what(version))

    applied = await engine.migrate(MIGRATIONS, on_step)
    if running:
        _log_finished(*running.pop(), engine)
    return applied


def _log_finished(version: int, started_at: float, engine: Engine) -> None:
    seconds = time.monotonic() - started_at
    log.info("event=migrated schema_version=%d engine=%s seconds=%.2f", version, engine.name, seconds)


def _what(version: int) -> str:
    """A migration's first line, its comment where it opens with one: what it does, in a log line."""
    first = next(line.strip() for line in MIGRATIONS[version - 1].splitlines() if line.strip())
    return first.removeprefix("--").strip().replace('"', "'")[:100]


async def pending_migrations(engine: Engine) -> int:
    """How many migrations this database still lacks (all of them on an empty one)."""
    if not await engine.has_table("schema_version"):
        return len(MIGRATIONS)
    return len(MIGRATIONS) - int(await engine.reads.fetchval("SELECT MAX(version) FROM schema_version") or 0)


async def job_count(engine: Engine, at_most: int | None = None) -> int:
    """The rows in `jobs`, counted up to `at_most`: whether a database is large costs no full count."""
    if at_most is None:
        return int(await engine.reads.fetchval("SELECT COUNT(*) FROM jobs"))
    return int(await engine.reads.fetchval("SELECT COUNT(*) FROM (SELECT 1 FROM jobs LIMIT ?) AS capped", at_most))
