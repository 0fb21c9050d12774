"""Progress bars for long work (the CLI's import and export, the engine's bulk create), drawn
with ``rich`` on stderr.

Silent when stderr is not a terminal (a pipe, a CI log, a notebook, a test) or when
``TTA_MEMORY_PROGRESS=0``, so output stays clean for scripts; ``rich`` is imported only when a
bar is actually drawn.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Advance(Protocol):
    """Callback that moves a bar forward by ``n`` steps."""

    def __call__(self, n: int = 1) -> None: ...


def enabled(stream: Any = None) -> bool:
    """Whether bars are drawn: stderr (or ``stream``) is a terminal and ``TTA_MEMORY_PROGRESS``
    is not ``0``."""
    if os.environ.get("TTA_MEMORY_PROGRESS", "1").strip() in ("0", "false", "no"):
        return False
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def bar(description: str, total: int | None = None, *, when: bool = True) -> Iterator[Advance]:
    """A progress bar on stderr for the duration of the ``with`` block.

    Args:
        description: What is being done ("importing").
        total: Number of steps, or ``None`` for a counter without an end.
        when: ``False`` draws nothing (work too short to be worth a bar).

    Yields:
        ``advance(n=1)``; a no-op when stderr is not a terminal.
    """
    if not when or not enabled():
        yield _noop
        return
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
    except ImportError:  # a trimmed install without rich: no bars, same results
        yield _noop
        return

    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    else:
        columns += [TextColumn("{task.completed} records")]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            progress.advance(task, n)

        yield advance


def _noop(n: int = 1) -> None:
    return None
