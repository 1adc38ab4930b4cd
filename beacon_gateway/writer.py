"""The batch writer: many submissions, one transaction, then every caller is told the outcome.

Servers hand it a submission (the positions of one HTTP request, TCP packet or MQTT message)
and get a future. A single thread gathers submissions for at most ``max_wait`` or
``max_positions``, runs them through the pipeline in one transaction and commits; only then
are the futures resolved, so no server can acknowledge anything not yet committed. A
transaction that fails is retried, then each submission alone, so one bad message cannot
hold back the others; a future that fails means "not stored, do not acknowledge".

The writer threads never die: whatever a transaction raises (a dropped connection, a
``PendingRollbackError``, a bug) is rolled back, the connection behind it is discarded
(invalidated, so the pool opens a fresh one) and the batch is retried or refused. The
writer also knows how long its oldest waiting message has waited, which ``/health`` reports:
a gateway whose messages wait longer than the stall limit is not ready, even while some
commits still go through. Messages, committed positions, refusals and commit times are
counted for ``/metrics`` (``beacon_gateway.metrics``).
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Sequence

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway import metrics
from beacon_gateway.evidence import UNKNOWN_KINDS, Evidence, TrafficCounts, packet_type, record
from beacon_gateway.pipeline import Batch, Pipeline, Ping
from beacon_gateway.position import Position
from tracker.domain.changes import announce
from tracker.domain.changes import announce

log = logging.getLogger(__name__)

RETRIES = 3
#: errors caused by the data of one submission: the connection is sound, the batch is split
DATA_ERRORS = (IntegrityError, DataError)


class NotStored(RuntimeError):
    """The positions could not be committed (the database is down or refused them): retry later."""


@dataclass(frozen=True)
class Rejection:
    """A ping that was refused, and why (``pipeline.UNAUTHORIZED`` etc.)."""

    index: int
    code: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    """What became of one submission once its transaction committed."""

    stored: int = 0
    duplicates: int = 0
    rejected: tuple[Rejection, ...] = ()

    @property
    def accepted(self) -> bool:
        """Return whether every ping is now in the database (new or already there)."""
        return not self.rejected


@dataclass
class Submission:
    """Positions that arrived together, with the token they came with and the caller's future,
    and the messages of the same device that are kept as evidence rather than positions."""

    positions: Sequence[Position]
    token: str | None = None
    future: Future[Outcome] = field(default_factory=Future)
    evidence: Sequence[Evidence] = ()


class BatchWriter:
    """Commits submissions in batches on one thread; ``submit`` is safe from any thread."""

    def __init__(self, sessions: sessionmaker[Session], pipeline: Pipeline,
                 max_positions: int = 1000, max_wait_s: float = 0.02, threads: int = 1) -> None:
        self.sessions = sessions
        self.pipeline = pipeline
        self.max_positions = max_positions
        self.max_wait_s = max_wait_s
        self.traffic = TrafficCounts()
        self._queue: queue.Queue[Submission | None] = queue.Queue()
        self._progress = threading.Lock()
        #: submitted, not yet answered: submission number -> when (oldest first: dicts keep order)
        self._waiting: dict[int, float] = {}
        self._numbers = itertools.count()
        # Two threads let one batch's Python work overlap another's wait on the database.
        self._threads = [threading.Thread(target=self._run, name=f"batch-writer-{n}", daemon=True)
                         for n in range(threads)]

    def start(self) -> BatchWriter:
        """Start the writer threads."""
        for thread in self._threads:
            thread.start()
        return self

    def submit(self, positions: Sequence[Position], token: str | None = None,
               evidence: Sequence[Evidence] = ()) -> Future[Outcome]:
        """Queue positions (and evidence) for storage; the future resolves after their commit."""
        submission = Submission(list(positions), token, evidence=tuple(evidence))
        if not submission.positions and not submission.evidence:
            submission.future.set_result(Outcome())
            return submission.future
        metrics.count_message((submission.positions or submission.evidence)[0].protocol)
        for item in submission.evidence:
            if item.kind in UNKNOWN_KINDS:
                metrics.count_unknown(item.protocol, packet_type(item))
        number = next(self._numbers)
        with self._progress:
            self._waiting[number] = time.monotonic()
        submission.future.add_done_callback(lambda _done: self._answered(number))
        self._queue.put(submission)
        return submission.future

    def waiting(self) -> int:
        """Return how many submissions wait for their answer."""
        with self._progress:
            return len(self._waiting)

    def oldest_wait_s(self) -> float:
        """Return how long the oldest submission still unanswered has waited (0 when none waits)."""
        with self._progress:
            oldest = next(iter(self._waiting.values()), None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    def problem(self, stall_s: float) -> str | None:
        """Return why the writer cannot store in time (a thread gone, a message waiting too long), or None."""
        if not all(thread.is_alive() for thread in self._threads):
            return "a batch-writer thread has stopped"
        waited = self.oldest_wait_s()
        if waited > stall_s:
            return f"a message has waited {waited:.0f} s for its commit (limit {stall_s:g} s)"
        return None

    def _answered(self, number: int) -> None:
        with self._progress:
            self._waiting.pop(number, None)

    def flush_traffic(self) -> None:
        """Write the traffic counts gathered so far (they are otherwise written every few seconds)."""
        self.traffic.flush(self.sessions)

    def stop(self, timeout: float | None = 30) -> None:
        """Commit everything already submitted, then stop the threads."""
        for _ in self._threads:
            self._queue.put(None)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self.flush_traffic()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            submissions, stopping = self._gather(first)
            try:
                self.write(submissions)
            except Exception:  # noqa: BLE001 - a writer thread must outlive any batch
                log.exception("batch of %d submissions failed", len(submissions))
                for submission in submissions:
                    _resolve(submission, NotStored("the gateway failed on these positions; retry"))
            if self.traffic.due():
                self.flush_traffic()

    def _gather(self, first: Submission) -> tuple[list[Submission], bool]:
        submissions, size = [first], len(first.positions)
        deadline = time.monotonic() + self.max_wait_s
        while size < self.max_positions:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                return submissions, True
            submissions.append(item)
            size += len(item.positions)
        return submissions, False

    def write(self, submissions: list[Submission]) -> None:
        """Store the submissions in one transaction (retrying), resolving their futures."""
        error: Exception | None = None
        for attempt in range(RETRIES):
            try:
                outcomes = self._transaction(submissions)
            except Exception as exc:  # noqa: BLE001 - rolled back and discarded: retry, then refuse
                error = exc
                log.warning("batch of %d submissions not committed (attempt %d): %s",
                            len(submissions), attempt + 1, getattr(exc, "orig", None) or exc)
                time.sleep(0.05 * 2 ** attempt)
                continue
            for submission, outcome in zip(submissions, outcomes):
                _resolve(submission, outcome)
            return
        if len(submissions) > 1 and isinstance(error, DATA_ERRORS):
            for submission in submissions:  # the data of one spoils the batch: find it
                self.write([submission])
            return
        metrics.count_refusal("not_stored", len(submissions))
        for submission in submissions:  # the database is away: the devices send again later
            _resolve(submission, NotStored("the database did not commit these positions; retry"))

    def _transaction(self, submissions: list[Submission]) -> list[Outcome | NotStored]:
        pings = [Ping(position, number, index, token=submission.token)
                 for number, submission in enumerate(submissions)
                 for index, position in enumerate(submission.positions)]
        started = time.perf_counter()
        with self.sessions() as session:
            try:
                batch = self.pipeline.run(Batch(session, pings))
                counts = record(session, batch.pings, [e for s in submissions for e in s.evidence])
                announce(session)  # the portal's live pages wake when (and only if) this commits
                session.commit()
            except DATA_ERRORS:
                raise  # rolled back on close; the connection is fine
            except Exception:
                session.invalidate()  # rolled back, and its connection is never used again
                raise
        count_committed(batch, time.perf_counter() - started)
        self.traffic.add(counts, batch.now)
        return outcomes_of(batch, len(submissions))


def count_committed(batch: Batch, seconds: float) -> None:
    """Count a committed batch for ``/metrics``: its time, its new and repeated positions, its refusals."""
    metrics.observe_batch(seconds, len(batch.pings))
    stored: Counter[str] = Counter()
    repeated: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for ping in batch.pings:                     # one pass: a batch holds up to a thousand pings
        if ping.rejection:
            refused[str(ping.rejection)] += 1
        elif ping.stored:
            stored[ping.position.protocol] += 1
        elif ping.duplicate:
            repeated[ping.position.protocol] += 1
    for protocol in stored.keys() | repeated.keys():
        metrics.count_positions(protocol, stored[protocol], repeated[protocol])
    for reason, count in refused.items():
        metrics.count_refusal(reason, count)


def outcomes_of(batch: Batch, count: int) -> list[Outcome | NotStored]:
    """Sum up the batch per submission; one with a ping no handler settled was not stored."""
    per_submission: list[list[Ping]] = [[] for _ in range(count)]
    for ping in batch.pings:
        per_submission[ping.submission].append(ping)
    return [_outcome(pings, batch.stored) for pings in per_submission]


def _outcome(pings: list[Ping], stored: bool) -> Outcome | NotStored:
    if not all(ping.rejection is not None or (stored and ping.settled) for ping in pings):
        return NotStored("a pipeline handler failed before these positions were stored; retry")
    return Outcome(
        stored=sum(ping.stored for ping in pings),
        duplicates=sum(ping.duplicate and ping.rejection is None for ping in pings),
        rejected=tuple(Rejection(p.index, p.rejection, p.reason) for p in pings if p.rejection),
    )


def _resolve(submission: Submission, outcome: Outcome | NotStored) -> None:
    if submission.future.done():
        return
    if isinstance(outcome, NotStored):
        submission.future.set_exception(outcome)
    else:
        submission.future.set_result(outcome)
