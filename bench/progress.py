"""A pytest plugin that drives a rich progress bar, one step per benchmark."""

from __future__ import annotations

from typing import Any

import pytest

PROGRESS = pytest.StashKey["Progress"]()  # the bar, for a benchmark's own steps


class Progress:
    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self._bar = Bar(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        )
        self._task = self._bar.add_task("benchmarks", total=None)
        self._inner: Any = None

    def __enter__(self) -> Progress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def step(self, done: int, total: int, what: str) -> None:
        """Progress inside one benchmark (the primitives' processes): a bar of its own."""
        if self._inner is None:
            self._inner = self._bar.add_task(what, total=total)
        self._bar.update(self._inner, completed=done, total=total, description=what)
        if done >= total:
            self._bar.remove_task(self._inner)
            self._inner = None

    def pytest_configure(self, config: Any) -> None:
        config.stash[PROGRESS] = self

    def pytest_collection_finish(self, session: Any) -> None:
        self._bar.update(self._task, total=len(session.items))

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or (report.when == "setup" and report.skipped):
            self._bar.update(self._task, advance=1, description=report.nodeid.split("::")[-1])
