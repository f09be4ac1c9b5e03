"""One error type for everything a user can cause or fix.

The CLI turns an :class:`AgentError` into one line on stderr and an exit code;
tracebacks appear only with ``--debug``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INVALID = 1  # a caption failed validation
EXIT_STORAGE = 1  # a file or folder could not be written (disk full, read-only, not a folder)
EXIT_INPUT = 2  # bad input or usage
EXIT_BACKEND = 3  # a model, endpoint or plugin failed


class AgentError(Exception):
    """An error with a message written for the user and the exit code that goes with it."""

    exit_code = EXIT_BACKEND

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class InputError(AgentError):
    """The user gave us something we cannot read: a missing file, a broken video, bad arguments."""

    exit_code = EXIT_INPUT


class BackendError(AgentError):
    """A model, an endpoint or a plugin failed."""

    exit_code = EXIT_BACKEND


class StorageError(AgentError):
    """What we had to write could not be written: a full disk, a read-only folder, a file in the way."""

    exit_code = EXIT_STORAGE


STORAGE_ERRNOS = {28, 30, 122, 13, 1, 20, 21, 17}  # ENOSPC EROFS EDQUOT EACCES EPERM ENOTDIR EISDIR EEXIST


def storage_error(exc: OSError, what: str) -> StorageError:
    """One line for an OSError met while writing ``what``."""
    where = exc.filename or what
    return StorageError(f"{where}: cannot write {what} ({exc.strerror or type(exc).__name__})")
