"""A progress bar for long imports, over the bytes of the file read so far (compressed
bytes for .gz files, so the bar is honest about how much is left)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import BinaryIO

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.console import Console

#: the longest file name shown; with the bar, bytes, count and time left the line fits
#: an 80-column terminal
_NAME = 16


class _Counting(io.RawIOBase):
    """A read-only file that reports how far it has been read."""

    def __init__(self, f: BinaryIO, on_read) -> None:
        self._f = f
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._f.readinto(b)
        if n:
            self._on_read(n)
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


class ImportProgress:
    def __init__(self, path: Path, *, quiet: bool = False, console: Console | None = None) -> None:
        self.size = path.stat().st_size
        self.quiet = quiet or (console is None and not sys.stderr.isatty())
        self._progress = Progress(
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(bar_width=15),
            DownloadColumn(),
            TextColumn("{task.fields[done]:>9,} interactions"),
            TimeRemainingColumn(),
            transient=False,
            disable=self.quiet,
            console=console,
        )
        name = path.name if len(path.name) <= _NAME else path.name[: _NAME - 1] + "…"
        self._task = self._progress.add_task(name, total=self.size, done=0)

    def __enter__(self) -> "ImportProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def wrap(self, path: Path) -> BinaryIO:
        raw = _Counting(path.open("rb"), lambda n: self._progress.advance(self._task, n))
        return io.BufferedReader(raw, buffer_size=1 << 20)

    def update(self, report) -> None:
        self._progress.update(self._task, done=report.accepted + report.duplicates)
