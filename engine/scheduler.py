"""One queue per GPU lane, and the order jobs leave it in.

Order within a queue is ``(-priority, fair tag, arrival)``. The fair tag is start-time fair queueing per
user: a user's k-th waiting job gets a tag k steps past the queue's virtual clock, so one user's 20 jobs
interleave with everyone else's instead of blocking them. Admins' jobs (higher priority) go first.

Model affinity: when the head of the queue needs a model the lane has not loaded, the lane may take a
job further back whose model is warm (within ``affinity_window``), but the head can be passed over at most
``max_skips`` times, so nothing starves.

A job is placed on the lane with the shortest expected wait when it arrives (a warm model wins ties); a
lane that goes idle with an empty queue steals the best job from the longest queue it can serve.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from engine.lanes import GpuLane

EXACT_ETA_AHEAD = 16


@dataclass(eq=False)
class Ticket:
    job_id: str
    user_key: str
    model: str | None
    est_s: float
    priority: int = 0
    max_running: int | None = None  # the user's limit on jobs running at once (None: none)
    seq: int = 0
    tag: float = 0.0
    skips: int = 0
    queue: LaneQueue | None = None
    future: asyncio.Future[GpuLane] | None = None
    done: bool = False  # left the queue (started or withdrawn)
    key: tuple[int, float, int] = (0, 0.0, 0)  # set when queued; fixed while it waits

    def sort_key(self) -> tuple[int, float, int]:
        return (-self.priority, self.tag, self.seq)

    def __lt__(self, other: Ticket) -> bool:
        return self.key < other.key


@dataclass(eq=False)
class LaneQueue:
    lane: GpuLane
    items: SortedList = field(default_factory=SortedList)  # live tickets, in the order they leave
    size: int = 0
    backlog_s: float = 0.0
    vtime: float = 0.0
    user_tags: dict[str, float] = field(default_factory=dict)

    def push(self, ticket: Ticket) -> None:
        ticket.tag = max(self.vtime, self.user_tags.get(ticket.user_key, 0.0)) + 1.0
        self.user_tags[ticket.user_key] = ticket.tag
        ticket.queue = self
        ticket.key = ticket.sort_key()
        self.items.add(ticket)
        self.size += 1
        self.backlog_s += ticket.est_s

    def take(self, ticket: Ticket) -> None:
        ticket.done = True
        self.items.discard(ticket)
        self.size -= 1
        self.backlog_s = max(0.0, self.backlog_s - ticket.est_s)

    def ordered(self) -> list[Ticket]:
        return list(self.items)

    def wait_s(self, now: float) -> float:
        return self.lane.remaining_s(now) + self.backlog_s


class Scheduler:
    def __init__(
        self, lanes: list[GpuLane], *, max_skips: int = 4, affinity_window: int = 8
    ) -> None:
        self.queues = [LaneQueue(lane) for lane in lanes]
        for lane in lanes:
            lane.on_ready = self.lane_ready
        self.max_skips = max_skips
        self.affinity_window = affinity_window
        self._seq = itertools.count()
        self._tickets: dict[str, Ticket] = {}
        self._running_by_user: defaultdict[str, int] = defaultdict(int)
        self._lane_ticket: dict[int, Ticket] = {}
        self.version = 0  # bumped whenever any queue changes, for position updates

    @property
    def lanes(self) -> list[GpuLane]:
        return [q.lane for q in self.queues]

    def can_serve(self, model: str | None) -> bool:
        return any(q.lane.serves(model) for q in self.queues)

    def queued(self) -> int:
        return sum(q.size for q in self.queues)

    def expected_wait(self, model: str | None) -> float | None:
        """Seconds until a new job for ``model`` would start; None if no lane serves it."""
        now = time.monotonic()
        waits = [q.wait_s(now) for q in self.queues if q.lane.serves(model)]
        return min(waits) if waits else None

    def place_for(self, model: str | None) -> tuple[int, float] | None:
        """(place, seconds until start) a new job for ``model`` would get now; None if no lane serves it."""
        now = time.monotonic()
        places = [(q.wait_s(now), q.size + 1) for q in self.queues if q.lane.serves(model)]
        if not places:
            return None
        wait, place = min(places)
        return place, wait

    # --- entering and leaving ---

    def enqueue(self, ticket: Ticket) -> Ticket:
        queue = self._choose_queue(ticket.model)
        if queue is None:
            raise LookupError(f"no GPU lane serves model {ticket.model!r}")
        ticket.seq = next(self._seq)
        ticket.future = asyncio.get_running_loop().create_future()
        queue.push(ticket)
        self._tickets[ticket.job_id] = ticket
        self.version += 1
        self._dispatch_idle()
        return ticket

    async def wait(self, ticket: Ticket) -> GpuLane:
        """Wait for the ticket's turn; the caller must ``release`` the lane it gets."""
        assert ticket.future is not None
        try:
            return await ticket.future
        except asyncio.CancelledError:
            self.withdraw(ticket)
            raise

    def lane_ready(self) -> None:
        """A lane that was warming up or stopping may take jobs now."""
        self.version += 1
        self._dispatch_idle()

    def release(self, lane: GpuLane) -> None:
        ticket = self._lane_ticket.pop(lane.index, None)
        if ticket is not None:
            self._running_by_user[ticket.user_key] -= 1
        lane.end()
        self.version += 1
        self._dispatch_idle()

    def withdraw(self, ticket: Ticket) -> None:
        future = ticket.future
        if future is not None and future.done() and not future.cancelled():
            # It was granted a lane the moment it was cancelled. Give the lane back only while this ticket
            # still holds it: a second withdraw (the runner's cleanup after ``wait`` already withdrew), or
            # one after a normal ``release``, must not free a lane that now runs someone else's job.
            lane = future.result()
            if self._lane_ticket.get(lane.index) is ticket:
                self.release(lane)
            return
        if not ticket.done and ticket.queue is not None:
            queue = ticket.queue
            queue.take(ticket)
            self._tickets.pop(ticket.job_id, None)
            # A cancelled job must not cost its user their turn: their next job's tag starts from the
            # newest one they still have waiting, or from the queue's clock.
            remaining = [t.tag for t in queue.items if t.user_key == ticket.user_key]
            if remaining:
                queue.user_tags[ticket.user_key] = max(remaining)
            else:
                queue.user_tags.pop(ticket.user_key, None)
            self.version += 1

    # --- choosing ---

    def _choose_queue(self, model: str | None) -> LaneQueue | None:
        now = time.monotonic()
        candidates = [q for q in self.queues if q.lane.serves(model)]
        if not candidates:
            return None
        return min(
            candidates,
            # A lane still warming up is a last resort among equals: an idle one starts the job at once.
            key=lambda q: (q.wait_s(now), q.lane.warming is not None, model not in q.lane.warm_models,
                           q.lane.index),
        )

    def _dispatch_idle(self) -> None:
        # Every idle lane serves its own queue first; only then may idle lanes with nothing to do steal, so
        # a lane never takes a job that the idle lane it was placed on (e.g. for a warm model) would run.
        hungry: list[GpuLane] = []
        for queue in self.queues:
            lane = queue.lane
            if lane.ready:
                ticket = self._pick(queue)
                if ticket is not None:
                    self._start(lane, ticket)
                else:
                    hungry.append(lane)
        for lane in hungry:
            ticket = self._steal(lane)
            if ticket is not None:
                self._start(lane, ticket)
        if any(q.lane.broken for q in self.queues):
            self._rehome_broken()

    def _start(self, lane: GpuLane, ticket: Ticket) -> None:
        assert ticket.queue is not None and ticket.future is not None
        ticket.queue.take(ticket)
        ticket.queue.vtime = max(ticket.queue.vtime, ticket.tag - 1.0)
        self._tickets.pop(ticket.job_id, None)
        self._running_by_user[ticket.user_key] += 1
        self._lane_ticket[lane.index] = ticket
        lane.begin(ticket.job_id, ticket.est_s)
        ticket.future.set_result(lane)

    def _eligible(self, ticket: Ticket) -> bool:
        if ticket.done or (ticket.future is not None and ticket.future.done()):
            return False
        limit = ticket.max_running
        return limit is None or self._running_by_user[ticket.user_key] < limit

    def _pick(self, queue: LaneQueue, lane: GpuLane | None = None) -> Ticket | None:
        """The next ticket ``lane`` (by default the queue's own) should run, or None."""
        lane = lane or queue.lane
        looked: list[Ticket] = []
        chosen: Ticket | None = None
        head: Ticket | None = None
        runnable = 0  # the affinity window counts only tickets this lane could run now
        for ticket in queue.items:
            if runnable >= self.affinity_window:
                break
            looked.append(ticket)
            if not self._eligible(ticket) or not lane.serves(ticket.model):
                continue
            runnable += 1
            if head is None:
                head = ticket
                if not lane.warm_models or ticket.model in lane.warm_models or ticket.skips >= self.max_skips:
                    chosen = ticket
                    break
            elif ticket.model in lane.warm_models and ticket.priority == head.priority:
                chosen = ticket
                break
        if chosen is None:
            chosen = head
        if chosen is not None and chosen is not head and head is not None:
            for ticket in looked:
                if ticket is chosen:
                    break
                ticket.skips += 1
        return chosen

    def _steal(self, lane: GpuLane) -> Ticket | None:
        donors = sorted(
            (q for q in self.queues if q.lane is not lane and q.size), key=lambda q: -q.size
        )
        for queue in donors:
            ticket = self._pick(queue, lane)
            if ticket is not None:
                return ticket
        return None

    def _rehome_broken(self) -> None:
        """Jobs waiting behind a broken GPU move to a healthy lane that serves their model."""
        for queue in self.queues:
            if not queue.lane.broken or not queue.size:
                continue
            stuck: list[Ticket] = []
            for ticket in queue.ordered():
                target = self._choose_queue(ticket.model)
                if target is None:
                    stuck.append(ticket)
                    continue
                queue.size -= 1
                queue.backlog_s = max(0.0, queue.backlog_s - ticket.est_s)
                target.push(ticket)
            queue.items = SortedList(stuck)
        for queue in self.queues:
            lane = queue.lane
            if lane.ready and queue.size:
                first = self._pick(queue)
                if first is not None:
                    self._start(lane, first)

    # --- reporting ---

    def positions(self) -> dict[str, tuple[int, float]]:
        """job id -> (1-based place in its lane's queue, seconds until it should start)."""
        now = time.monotonic()
        result: dict[str, tuple[int, float]] = {}
        for queue in self.queues:
            eta = queue.lane.remaining_s(now)
            for place, ticket in enumerate(queue.ordered(), start=1):
                result[ticket.job_id] = (place, eta)
                eta += ticket.est_s
        return result

    def position(self, job_id: str) -> tuple[int, float] | None:
        ticket = self._tickets.get(job_id)
        if ticket is None or ticket.queue is None:
            return None
        queue = ticket.queue
        ahead = queue.items.index(ticket)
        eta = queue.lane.remaining_s(time.monotonic())
        exact = min(ahead, EXACT_ETA_AHEAD)  # summed job by job; beyond that, at the queue's mean
        eta += sum(t.est_s for t in queue.items.islice(0, exact))
        if ahead > exact:
            eta += (ahead - exact) * queue.backlog_s / max(queue.size, 1)
        return ahead + 1, eta

    def queue_lengths(self) -> dict[str, int]:
        return {q.lane.name: q.size for q in self.queues}
