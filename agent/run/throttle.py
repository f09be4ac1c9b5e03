"""Model calls that overlap across clips, while the vision work keeps its own number of slots.

A batch against a model server runs its clips in threads. Each clip's thread holds a *vision*
slot (``workers`` of them) while it decodes and runs tools, and gives it up while it waits for or
makes a model request; a request needs one of ``llm_concurrency`` *model* slots. So the server
sees up to ``llm_concurrency`` requests at once and the CPUs no more vision work than before.

Retries are made here rather than in the HTTP client: a request that gets a 429, a 5xx, a
time-out or a dropped connection gives its model slot back, sleeps its own back-off (the
server's ``Retry-After`` when it sends one, else 0.5 s doubling, with jitter) and queues again,
so one failing request never holds up the others. :class:`GatedModel` counts each run's time
waiting for a model slot (``queue_s``) apart from the time the server took (``model_s``).
"""

from __future__ import annotations

import random
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

RETRIED_STATUS = {408, 409, 429}  # and every 5xx


class VisionHold:
    """One clip's claim on a vision slot: whether it holds one now, and the seconds it waited for them.

    The claim belongs to the clip, not to a thread: the graph runs its model and tool nodes on
    worker threads, and a model request made there gives up the slot its clip holds."""

    def __init__(self) -> None:
        self.held = False
        self.wait = 0.0


class Gates:
    """The vision and model slots a batch's clip threads share."""

    def __init__(self, vision: int, llm: int, retries: int = 2):
        if vision < 1 or llm < 1:
            raise ValueError("slots must be at least 1")
        self.vision_slots, self.llm_slots, self.retries = vision, llm, retries
        self._vision = threading.BoundedSemaphore(vision)
        self._llm = threading.BoundedSemaphore(llm)
        self._local = threading.local()  # the hold of the clip this thread runs, inside vision()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak_in_flight = 0  # most model requests at once, for the summary and the tests

    def current_hold(self) -> VisionHold | None:
        """The hold of the clip this thread runs (None outside :meth:`vision`)."""
        return getattr(self._local, "hold", None)

    def _take_vision(self, hold: VisionHold) -> None:
        started = time.perf_counter()
        self._vision.acquire()
        hold.held = True
        hold.wait += time.perf_counter() - started

    def _give_vision(self, hold: VisionHold | None) -> bool:
        """Give ``hold``'s slot up; whether it held one."""
        if hold is None or not hold.held:
            return False
        hold.held = False
        self._vision.release()
        return True

    def vision_wait(self, hold: VisionHold | None = None) -> float:
        """Seconds the clip has waited for vision slots since its :meth:`vision` block began."""
        hold = hold if hold is not None else self.current_hold()
        return hold.wait if hold is not None else 0.0

    @contextmanager
    def vision(self) -> Iterator[float]:
        """Hold a vision slot for the block (one clip's work); yields the seconds waited for it."""
        hold = VisionHold()
        self._local.hold = hold
        self._take_vision(hold)
        try:
            yield hold.wait
        finally:
            self._give_vision(hold)
            self._local.hold = None

    @contextmanager
    def model_slot(self, hold: VisionHold | None = None) -> Iterator[float]:
        """Give the clip's vision slot up (if held), take a model slot; yields the seconds waited for it."""
        hold = hold if hold is not None else self.current_hold()
        held = self._give_vision(hold)
        started = time.perf_counter()
        self._llm.acquire()
        waited = time.perf_counter() - started
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield waited
        finally:
            with self._lock:
                self.in_flight -= 1
            self._llm.release()
            if held:
                self._take_vision(hold)

    @contextmanager
    def no_vision(self, hold: VisionHold | None = None) -> Iterator[None]:
        """Give the clip's vision slot up for a wait that is not vision work (a back-off sleep)."""
        hold = hold if hold is not None else self.current_hold()
        held = self._give_vision(hold)
        try:
            yield
        finally:
            if held:
                self._take_vision(hold)


def retry_delay(exc: Exception, attempt: int) -> float | None:
    """Seconds to wait before trying a failed request again, or None when it is not worth retrying."""
    try:
        import openai
    except ImportError:  # pragma: no cover - the OpenAI client comes with langchain-openai
        return None
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code not in RETRIED_STATUS and code < 500:
            return None
        headers = getattr(exc.response, "headers", {}) or {}
        for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            value = headers.get(name)
            if value is not None:
                try:
                    return min(60.0, max(0.0, float(value) * scale))
                except ValueError:
                    pass
    elif not isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
        return None
    return min(8.0, 0.5 * 2 ** attempt) * random.uniform(0.75, 1.25)


class GatedModel:
    """A chat model whose requests take model slots and retry with their own back-off.

    The wrapped client must make no retries of its own (``max_retries=0``). ``queue_s`` says how
    long this run's requests waited for a model slot or a back-off, ``retried`` how often they
    were tried again; :meth:`take_wait` hands the last request's waits (for the model slot, the
    back-offs and the vision slot after it) to the caller that times the request, so model time
    excludes them.
    """

    def __init__(self, inner: Any, gates: Gates, retries: int, hold: VisionHold | None = None):
        self.inner, self.gates, self.retries = inner, gates, retries
        self.hold = hold if hold is not None else gates.current_hold()  # made in the clip's own thread
        self.queue_s = 0.0
        self.retried = 0
        self._last_wait = 0.0
        self._parent: GatedModel | None = None

    def bind_tools(self, tools, **kwargs) -> "GatedModel":
        bound = GatedModel(self.inner.bind_tools(tools, **kwargs), self.gates, self.retries, self.hold)
        bound._parent = self
        return bound

    def _root(self) -> "GatedModel":
        return self._parent._root() if self._parent is not None else self

    def take_wait(self) -> float:
        """The time the last request spent waiting (for slots and back-offs), once."""
        root = self._root()
        wait, root._last_wait = root._last_wait, 0.0
        return wait

    def invoke(self, messages, *args, **kwargs):
        root = self._root()
        waited = 0.0
        attempt = 0
        while True:
            result, error = None, None
            before = self.gates.vision_wait(self.hold)
            with self.gates.model_slot(self.hold) as queued:
                waited += queued
                try:
                    result = self.inner.invoke(messages, *args, **kwargs)
                except Exception as e:
                    error = e
            # the wait for a vision slot again after the request is the vision's, not the model's time
            waited_vision = self.gates.vision_wait(self.hold) - before
            delay = None
            if error is not None:
                delay = retry_delay(error, attempt) if attempt < self.retries else None
            if error is None or delay is None:
                root.queue_s += waited
                root._last_wait += waited + waited_vision
                if error is not None:
                    raise error
                return result
            root._last_wait += waited_vision
            attempt += 1
            root.retried += 1
            with self.gates.no_vision(self.hold):  # the back-off holds no slot at all
                time.sleep(delay)
            waited += delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
