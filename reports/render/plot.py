"""What every figure shares: matplotlib without a display, IQR error bars, log-log axes,
and saving a figure to its file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from dthq.harness.results import Distribution

# plt from here, never from matplotlib directly: the backend is chosen before pyplot loads.
__all__ = ["errors", "log_log", "plt", "save"]


def errors(timings: Sequence[Distribution]) -> list[list[float]]:
    """IQR error bars (zero where a migrated result has no quartiles)."""
    low = [t.median - (t.q1 if t.q1 is not None else t.median) for t in timings]
    high = [(t.q3 if t.q3 is not None else t.median) - t.median for t in timings]
    return [low, high]


def log_log(ax: Any, xlabel: str, ylabel: str, legend_size: int = 8) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=legend_size)
    ax.grid(alpha=0.3)


def save(fig: Any, path: Path, title: str | None = None) -> Path:
    """Title the figure, lay it out, write it and free it."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
