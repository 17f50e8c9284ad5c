"""What the suite reads back at the end: the devices' log of readings generated and
settled, the store's readings, the FHIR stand-in's; the checker's Log from them, and
each fault's recovery time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chaos.checker import Key, Log
from dthq.twin.store import Store

BOOT = "B"  # a devices process started: readings before it were the previous one's


@dataclass(frozen=True)
class DeviceLog:
    generated: dict[Key, int]  # each reading -> the devices process (boot) that made it
    settled: dict[Key, int]  # each settled reading -> when its receipt came, ms
    boots: int


def read_device_log(path: Path) -> DeviceLog:
    """The G/S/B lines; a last line cut short by a SIGKILL is left out."""
    generated: dict[Key, int] = {}
    settled: dict[Key, int] = {}
    boot = 0
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        parts = line.split()
        try:
            if parts[:1] == [BOOT]:
                boot += 1
            elif parts[:1] == ["G"] and len(parts) == 3:
                generated[(parts[1], int(parts[2]))] = boot
            elif parts[:1] == ["S"] and len(parts) == 4:
                settled.setdefault((parts[1], int(parts[2])), int(parts[3]))
        except ValueError:
            continue  # torn
    return DeviceLog(generated, settled, boot)


def stored_readings(store: Store) -> list[Key]:
    return [(r.pid, r.ts) for pid in store.patients() for r in store.readings(pid)]


def checker_log(
    devices: DeviceLog, stored: Iterable[Key], fhir: dict[Key, int]
) -> tuple[Log, set[Key]]:
    """The checker's view: generated, acknowledged (settled), delivered (at the FHIR
    server, once per distinct bundle) and why a reading is missing; and the readings
    stored whose Bundle never reached FHIR."""
    log = Log(generated=set(devices.generated), acknowledged=set(devices.settled))
    log.deliver_counts(fhir)
    stored_set = set(stored)
    behind = stored_set - fhir.keys()  # the store is not a sink: missing at FHIR is missing
    for key in behind:
        log.reasons[key] = "stored, its FHIR Bundle undelivered"
    for key in log.generated - stored_set:
        log.reasons[key] = "never stored"
    return log, behind


def recovery_s(
    faults: Sequence[tuple[str, int, int]], devices: DeviceLog, patients: Sequence[str]
) -> list[float]:
    """For each fault (kind, injected ms, restored ms): seconds from its injection until
    every patient has a reading taken after its end settled again (the pipeline
    delivering end to end). A fault after which some patient never recovered is left
    out here; the run's established count shows it."""
    settled_after: dict[str, list[tuple[int, int]]] = {p: [] for p in patients}
    for (pid, ts), at in devices.settled.items():
        if pid in settled_after:
            settled_after[pid].append((ts, at))
    for values in settled_after.values():
        values.sort()
    out = []
    for _, injected, restored in faults:
        firsts = []
        for values in settled_after.values():
            after = [at for ts, at in values if ts >= restored]
            if not after:
                break
            firsts.append(min(after))
        else:
            if firsts:
                out.append((max(firsts) - injected) / 1000)
    return out
