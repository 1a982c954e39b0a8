"""Errors a user can act on.

Every error that is the user's to fix (a bad flag, a malformed file, a server
that cannot be reached) is a :class:`MinisysError`. The CLI prints its message
on one line and exits non-zero; anything else is a bug and shows a traceback.
"""

from __future__ import annotations


class MinisysError(Exception):
    """A user-facing error: say what is wrong and where, on one line."""

    exit_code = 2


class ServiceUnavailable(MinisysError):
    """A real service (Postgres, Kafka) is not configured or does not answer."""


class BadInput(MinisysError):
    """Input (a file, a record, a message, a flag) that minisys cannot accept."""
