"""The Celery app, built from settings: Redis when configured, else an embedded SQLite broker."""

from __future__ import annotations

import sys

from celery import Celery

from retrieval.core.datadir import prepare_data_dir
from retrieval.core.settings import Settings
from retrieval.runtime import Runtime
from workers import embedded_broker, monitoring

INGEST_TASK = "workers.tasks.ingest_document"
EMBED_TASK = "workers.tasks.embed_waiting"
REBUILD_TASK = "workers.tasks.rebuild_index"
MEETING_TASK = "workers.tasks.run_meeting_job"
TABLE_TASK = "workers.tasks.run_table_job"
TABLE_COLUMNS_TASK = "workers.tasks.propose_table_columns"
SLACK_SUMMARY_TASK = "workers.tasks.summarize_for_slack"
SLACK_ANSWER_TASK = "workers.tasks.answer_for_slack"
SLACK_WEBHOOK_TASK = "workers.tasks.post_meeting_to_slack"
SLACK_DELIVERY_TASK = "workers.tasks.deliver_to_slack"

# Seconds a task may run past its soft time limit (where it records why it stopped) before the
# worker kills it.
HARD_LIMIT_GRACE = 60
# The longest pause before a task is tried again (the tasks' backoff is capped at this). A worker
# holds a retried task, unacknowledged, until it is due.
MAX_RETRY_DELAY = 300


# Seconds a new pool process may take to start (load its models) before Celery kills it.
# Measured: a worker here (2 cores, loaded) indexes its first document 12 s after it starts,
# model load included (`python -m tests.gpu.check --parts worker`); a GPU process adds its
# CUDA context and the copy to the device, which the same check times on a GPU machine. Celery's
# default of 4 s would kill such a process and start another, forever; 180 s leaves room for a
# cold disk and a busy machine while a process that truly hangs is still replaced.
WORKER_START_SECONDS = 180.0


def visibility_timeout(settings: Settings) -> int:
    """Seconds Redis waits for a delivered task to be acknowledged before it gives the task to
    another worker: the redelivery that finishes the work of a worker that died.

    It must outlast the longest time a live worker holds a task unacknowledged (a retry's pause,
    then the run up to its hard time limit), or a running task would be handed out twice; twice
    that, for margin. The one exception is the index rebuild (workers.tasks.REBUILD_TIME_LIMIT:
    days, since it may re-embed millions of chunks): a rebuild delivered again while it runs
    finds the rebuild lock held and returns "busy" at once, and a rebuild whose worker died is
    queued again when a worker starts (workers.recovery.resume_rebuild). Covering it would
    leave the uploads of a dead worker waiting a week."""
    return 2 * (MAX_RETRY_DELAY + settings.task_time_limit + HARD_LIMIT_GRACE)


def create_celery(settings: Settings) -> Celery:
    prepare_data_dir(settings.data_dir)  # owner-only, before the broker file is made
    broker = settings.broker_url
    if settings.embedded_broker:
        broker = embedded_broker.broker_url(broker)
    app = Celery("docchat", broker=broker, backend=settings.result_backend,
                 include=["workers.tasks"])
    app.conf.update(
        task_default_queue=settings.queue,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        # At-least-once delivery: a task is acknowledged only after it finished, and given
        # back to the queue if its worker dies; the tasks are idempotent, so reruns are safe.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=prefetch_multiplier(settings),
        task_soft_time_limit=settings.task_time_limit,
        task_time_limit=settings.task_time_limit + HARD_LIMIT_GRACE,
        broker_connection_retry_on_startup=True,
        # A pool process loads torch and the embedding model when it starts (a CUDA context too
        # on a GPU), which takes longer than Celery's 4 s for a child to report it is up: the
        # pool would kill it and start another, forever.
        worker_proc_alive_timeout=WORKER_START_SECONDS,
        result_expires=24 * 3600,
    )
    if settings.embedded_broker:
        # kombu's SQLAlchemy transport hands these options to create_engine (its poll interval
        # is set in workers.embedded_broker); wait for SQLite's lock instead of failing when
        # the web app and the worker write to the queue at the same moment.
        app.conf.broker_transport_options = {"connect_args": {"timeout": 30}}
    else:
        app.conf.broker_transport_options = {"visibility_timeout": visibility_timeout(settings)}
    monitoring.install(app, settings)  # log format, task events for Flower
    app.docchat_settings = settings  # type: ignore[attr-defined]
    return app


def prefetch_multiplier(settings: Settings) -> int:
    """Tasks a worker holds per pool process, running or waiting to run there.

    One on a shared broker (Redis): a task held by a busy worker would wait while another
    worker idles, and Redis hands the next task over the moment one is done. Two on the
    embedded broker, which only the serve command's worker reads and which is polled: with one
    task held per process, a process that finished waited for the next poll (up to 0.1 s) to
    get another; a batch of small uploads left the cores idle a tenth of the time
    (tests/benchmarks/ingest_throughput). A worker killed with tasks held loses none: the
    serve command queues every unfinished upload again (workers.recovery)."""
    return 2 if settings.embedded_broker else 1


def worker_command(settings: Settings, *extra: str) -> list[str]:
    """The command line of a worker as `docchat serve` starts it (tests and benchmarks too):
    `worker_concurrency` processes, each embedding on its share of the cores (workers.cores)."""
    return [sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool", "prefork",
            "--concurrency", str(settings.worker_concurrency), "--without-gossip",
            "--without-mingle", *extra]


_runtimes: dict[int, Runtime] = {}


def runtime_for(app: Celery) -> Runtime:
    """The worker process's Runtime: the embedding model loads once per process."""
    key = id(app)
    if key not in _runtimes:
        _runtimes[key] = Runtime(app.docchat_settings)  # type: ignore[attr-defined]
    return _runtimes[key]
