"""Errors that carry a message a user can act on."""

from __future__ import annotations

import sys


class FolioError(Exception):
    """Base class: the message is shown to the user as is."""


class ConfigError(FolioError):
    """pipelines.toml is missing, unreadable or invalid (exit code 2)."""


class DocumentError(FolioError):
    """One document could not be processed; the run goes on with the others."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Errors cross process boundaries (per-document workers) by pickling.
        return (type(self), (self.path, self.reason))


class UnsupportedFormat(DocumentError):
    """No partitioner handles this content type."""


class DocumentTimeout(DocumentError):
    """A document took longer than its per-document time limit."""


def report(e: FolioError) -> int:
    """An entry point's last word on an error a user can act on: the message on stderr,
    exit code 2 (configuration or fatal)."""
    from folio.exitcodes import EXIT_FATAL

    sys.stderr.write(f"{'config error' if isinstance(e, ConfigError) else 'error'}: {e}\n")
    return EXIT_FATAL
