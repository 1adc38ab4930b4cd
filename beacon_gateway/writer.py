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
writer also knows when commits have stalled, which ``/health`` reports.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Sequence

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from beacon_gateway.evidence import Evidence, TrafficCounts, record
from beacon_gateway.pipeline import Batch, Pipeline, Ping
from beacon_gateway.position import Position

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
        self._waiting = 0                          # submitted, not yet answered
        self._progress_at = time.monotonic()       # last commit, or when the wait began
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
        with self._progress:
            if self._waiting == 0:
                self._progress_at = time.monotonic()
            self._waiting += 1
        submission.future.add_done_callback(self._answered)
        self._queue.put(submission)
        return submission.future

    def stalled_s(self) -> float:
        """Return how long submissions have waited without any commit (0 when none waits)."""
        with self._progress:
            return time.monotonic() - self._progress_at if self._waiting else 0.0

    def problem(self, stall_s: float) -> str | None:
        """Return why the writer cannot store right now (a thread gone, commits stalled), or None."""
        if not all(thread.is_alive() for thread in self._threads):
            return "a batch-writer thread has stopped"
        stalled = self.stalled_s()
        if stalled > stall_s:
            return f"no commit for {stalled:.0f} s while positions wait"
        return None

    def _answered(self, future: Future[Outcome]) -> None:
        with self._progress:
            self._waiting -= 1
            if future.exception() is None:
                self._progress_at = time.monotonic()

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
        for submission in submissions:  # the database is away: the devices send again later
            _resolve(submission, NotStored("the database did not commit these positions; retry"))

    def _transaction(self, submissions: list[Submission]) -> list[Outcome | NotStored]:
        pings = [Ping(position, number, index, token=submission.token)
                 for number, submission in enumerate(submissions)
                 for index, position in enumerate(submission.positions)]
        with self.sessions() as session:
            try:
                batch = self.pipeline.run(Batch(session, pings))
                counts = record(session, batch.pings, [e for s in submissions for e in s.evidence])
                session.commit()
            except DATA_ERRORS:
                raise  # rolled back on close; the connection is fine
            except Exception:
                session.invalidate()  # rolled back, and its connection is never used again
                raise
        self.traffic.add(counts, batch.now)
        return outcomes_of(batch, len(submissions))


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
