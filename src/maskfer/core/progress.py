"""Progress for long stages: a live bar on a terminal, and in a log file a line every 5% with the time left."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def progress_display(show: bool = True, transient: bool = False,
                     console: Console | None = None) -> tuple[Progress, Callable[[int, str], Callable[[int], None]]]:
    """A Rich progress display on stderr, and `advancer(task, label)`, which makes a task's `advance(n=1)`.

    A terminal gets the live bars (with the time left). A log file gets no live display at all, so each
    `advance` that crosses a 5% step of its task's total prints `label done/total after T, about
    L left`, L at the rate since the task's first report (which may be a batch of cached items,
    so it is left out of the rate).
    """
    console = console or Console(stderr=True)
    progress = Progress(TextColumn("{task.description:28s}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=console, disable=not (show and console.is_terminal), transient=transient)
    started = time.perf_counter()

    def advancer(task, label: str) -> Callable[[int], None]:
        first = []  # (time, count) of the task's first report

        def advance(n: int = 1) -> None:
            progress.advance(task, n)
            state = next(t for t in progress.tasks if t.id == task)  # Rich counts even when the display is off
            done, total, now = state.completed, state.total, time.perf_counter()
            first[:] = first or [now, done]
            step = max(1, int(total or 0) // 20)
            if show and total and not console.is_terminal and (done - n) // step != done // step:
                rate = (done - first[1]) / (now - first[0]) if now > first[0] else 0
                left = f", about {duration((total - done) / rate)} left" if rate > 0 and done < total else ""
                console.print(f"{label} {done:.0f}/{total:.0f} after {duration(now - started)}{left}", highlight=False)
        return advance

    return progress, advancer


@contextmanager
def counted(label: str, total: int, show: bool = True) -> Iterator[Callable[[int], None]]:
    """One counted step of a long job, shown as `progress_display` shows its tasks; yields its `advance(n=1)`."""
    progress, advancer = progress_display(show, transient=True)
    with progress:
        yield advancer(progress.add_task(label, total=total), label)
