"""What native libraries write straight to file descriptor 2 (LiteRT's start-up line, FFmpeg's complaints about a
damaged video) kept off the user's terminal: maskfer promises one line per problem on stderr, its own."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

STDERR_LOCK = threading.Lock()


@contextmanager
def native_logs_silenced():
    """File descriptor 2 pointed at /dev/null for the duration of one native call. Only around such calls, never at
    import; Python's own stderr (sys.stderr) is untouched."""
    with STDERR_LOCK:  # one redirect at a time, or two threads could leave fd 2 pointing at /dev/null
        saved, quiet = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(quiet, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(quiet)
