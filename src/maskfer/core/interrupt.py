"""Termination by signal handled as Ctrl-C is: `kill`, `timeout` and a closed terminal leave no half-written file."""

from __future__ import annotations

import signal
from contextlib import contextmanager

SIGNALS = ("SIGTERM", "SIGHUP")  # kill and timeout's default; the terminal closing


@contextmanager
def signals_interrupt():
    """Inside, SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C does, so every `with` block and `finally` runs
    (rows renamed into place, temporary files removed); the previous handlers come back on the way out.

    Python's default for these signals ends the process at once, skipping all of that. Main thread only (a
    signal handler can be set nowhere else); elsewhere it changes nothing.
    """
    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {}
    try:
        for name in SIGNALS:
            if hasattr(signal, name):
                number = getattr(signal, name)
                previous[number] = signal.signal(number, interrupt)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
