"""Logging through the host (`host.log`). The host caps how much a stage may
log per call, so log per batch, not per record. Natively (tests), messages
go to standard error."""

import sys
from enum import IntEnum


class Level(IntEnum):
    """Severity, as numbered in the WIT `level` enum."""

    DEBUG = 0
    INFO = 1
    WARN = 2
    ERROR = 3


# Set to the host's log function when the stage runs inside the component.
_sink = None


def log(level: Level, message: str) -> None:
    """Sends `message` to the host log at `level`."""
    if _sink is None:
        print(f"[{Level(level).name}] {message}", file=sys.stderr)
    else:
        _sink(int(level), str(message))


def debug(message: str) -> None:
    log(Level.DEBUG, message)


def info(message: str) -> None:
    log(Level.INFO, message)


def warn(message: str) -> None:
    log(Level.WARN, message)


def error(message: str) -> None:
    log(Level.ERROR, message)
