"""How the process is stopped and limited: SIGTERM handled like Ctrl-C, and a warning about an address-space
limit too low for the vision libraries."""

from __future__ import annotations

import signal
import sys

try:
    import resource
except ImportError:  # not on every platform (Windows)
    resource = None

LOW_MEMORY_LIMIT = 3 << 30  # the vision libraries and their threads reserve about this much address space


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run in progress writes its record (failed, interrupted)."""


def terminate_like_interrupt() -> None:
    """From now on SIGTERM raises :class:`Terminated` in the main thread."""
    def on_term(signum, frame):
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (main() called from a thread): leave the default
        pass


def warn_of_a_memory_limit() -> None:
    """A limit on the address space (``ulimit -v``) below what the vision libraries reserve makes them
    fail inside native code, sometimes with no message at all: say so once, before any work."""
    if resource is None:
        return
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ValueError, OSError):
        return
    if soft != resource.RLIM_INFINITY and soft < LOW_MEMORY_LIMIT:
        print(f"warning: this process may use at most {soft >> 20} MB of memory (ulimit -v); the vision "
              f"libraries need about {LOW_MEMORY_LIMIT >> 30} GB and may run out of memory, or crash without a "
              "message, below that", file=sys.stderr)
