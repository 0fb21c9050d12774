"""Progress bars for long work (the CLI's import and export, the engine's bulk create), drawn
with ``tqdm`` on stderr.

Silent when stderr is not a terminal (a pipe, a CI log, a notebook, a test) or when
``TTA_MEMORY_PROGRESS=0``, so output stays clean for scripts; ``tqdm`` is imported only when a
bar is actually drawn. ``tqdm`` rather than ``rich``: the same bar for 0.5 MB and no
dependencies, where ``rich`` brought ``pygments`` and ``markdown-it`` (12 MB of the 450 MB
install budget, benchmarks/README.md benchmark 5).
"""

from __future__ import annotations

import os
import shutil
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
        from tqdm import tqdm
    except ImportError:  # a trimmed install without tqdm: no bars, same results
        yield _noop
        return

    unit = "step" if total is not None else "record"
    # A terminal that reports a size of 0 x 0 (a fresh pseudo-terminal, some CI runners' ttys)
    # makes tqdm 4.70 draw nothing at all (it counts -1 rows); shutil falls back to $COLUMNS /
    # $LINES or 80 x 24 there.
    size = shutil.get_terminal_size()
    # leave=False: the bar disappears when done, leaving only the command's own summary line.
    with tqdm(
        total=total,
        desc=description,
        unit=unit,
        file=sys.stderr,
        leave=False,
        ncols=size.columns,
        nrows=size.lines,
    ) as progress:

        def advance(n: int = 1) -> None:
            progress.update(n)

        yield advance


def _noop(n: int = 1) -> None:
    return None
