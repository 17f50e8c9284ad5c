"""The twin store's cost against its size: ``Store.put`` of one typical batch timed on
stores already holding 0, 10 k, 100 k (and 1 M) readings. The batch is what the cloud
writes by default (its readings and the gateway's session state; no FHIR destination,
so no outbox bundle): the write whose fixed cost is smallest, so growth shows most.

Each size is its own store, filled first through :func:`fill` (``put`` itself, in
batches of 10,000 readings: the very rows a cloud would have written, sealed, numbered
and counted, in a few hundred transactions instead of tens of thousands). The sizes
are then timed in the same rounds, each round a few puts at every size in turn (the
order rotating), so a change in the machine's load falls on every size alike and the
ratio of the largest to the smallest is taken under the same conditions. Each round's
median put is kept per size, so the sizes pair round by round (the growth's interval).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from dthq.harness.results import Distribution, StoreCostPoint
from dthq.twin.reading import Reading
from dthq.twin.store import Store

PATIENTS = 20
BATCH = 20  # one reading per patient: a gateway's batch window at 1 Hz
FILL_BATCH = 10_000
PUTS_PER_ROUND = 5
SECRET = bytes(range(32))
START_MS = 1_700_000_000_000
SESSION = ("gateway-0", bytes(200))  # a record layer's saved state is ~200 B


def _reading(patient: int, n: int) -> Reading:
    # Values that vary as a patient's would: the sealed rows are not all alike.
    return Reading(
        f"patient-{patient:03d}", START_MS + n * 1000 + patient, 60.0 + n % 40,
        94.0 + n % 6, 36.5 + (n % 10) / 10, f"device-{patient:03d}",
    )  # fmt: skip


def batch(first: int, n: int, patients: int = PATIENTS) -> list[Reading]:
    """Readings ``first`` .. ``first + n - 1`` of the run, dealt round the patients in
    turn (reading i is patient i mod patients's, at second i // patients)."""
    return [_reading(i % patients, i // patients) for i in range(first, first + n)]


def fill(store: Store, rows: int, patients: int = PATIENTS) -> int:
    """Put ``rows`` readings into an empty ``store`` in big batches; the next reading's
    index (what :func:`batch` continues from)."""
    for first in range(0, rows, FILL_BATCH):
        store.put(batch(first, min(FILL_BATCH, rows - first), patients))
    return rows


def measure(
    folder: Path, sizes: Sequence[int], rounds: int, *, patients: int = PATIENTS
) -> tuple[StoreCostPoint, ...]:
    """The put cost at each size, ``rounds`` rounds of :data:`PUTS_PER_ROUND` puts."""
    with ExitStack() as stack:
        stores, nexts = [], []
        for i, rows in enumerate(sizes):
            store = Store(folder / f"store-{i}.db", SECRET)
            stack.callback(store.close)
            nexts.append(fill(store, rows, patients))
            stores.append(store)
        walls: list[list[float]] = [[] for _ in sizes]
        cpus: list[list[float]] = [[] for _ in sizes]
        for r in range(rounds):
            for k in range(len(sizes)):
                i = (k + r) % len(sizes)  # rotate: no size always first after another
                for _ in range(PUTS_PER_ROUND):
                    readings = batch(nexts[i], BATCH, patients)
                    nexts[i] += BATCH
                    t0, c0 = time.perf_counter(), time.process_time()
                    stores[i].put(readings, session=SESSION)
                    cpus[i].append(time.process_time() - c0)
                    walls[i].append(time.perf_counter() - t0)
    return tuple(
        StoreCostPoint(
            rows,
            patients,
            BATCH,
            Distribution.from_samples(w, 1e3),
            Distribution.from_samples(c, 1e3),
            round_medians(w),
        )
        for rows, w, c in zip(sizes, walls, cpus, strict=True)
    )


def round_medians(walls: Sequence[float]) -> tuple[float, ...]:
    """Each round's median put in ms (a round is :data:`PUTS_PER_ROUND` puts in a row)."""
    return tuple(
        statistics.median(walls[i : i + PUTS_PER_ROUND]) * 1e3
        for i in range(0, len(walls), PUTS_PER_ROUND)
    )


def store_cost(sizes: Sequence[int], rounds: int) -> tuple[StoreCostPoint, ...]:
    """:func:`measure` in a temporary folder, removed after."""
    with tempfile.TemporaryDirectory(prefix="dthq-store-cost-") as folder:
        return measure(Path(folder), sizes, rounds)
