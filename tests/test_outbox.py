"""The FHIR outbox: bundles commit with their readings, the sender delivers them through a
real HTTP FHIR stub on loopback (503 for a while then 200, a 400, a dead port), nothing
is lost, every failure is counted by outcome, backoff stays in its bounds, and resending
a bundle changes nothing on the server."""

from __future__ import annotations

import errno
import json
import random
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from helpers import SteppingClock

from dthq.harness.telemetry import TelemetryGenerator
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.outbox import Backoff, FHIRDirectory, FHIRServer, Sender, outcome_of_status
from dthq.pipeline.run import SimConfig, simulate
from dthq.twin import fhir
from dthq.twin.reading import Reading
from dthq.twin.store import Backlog, Store

SECRET = bytes(range(32))


class Stub:
    """A FHIR server on loopback: answers ``script`` in turn (then 200), applies each
    accepted transaction's PUTs to ``resources`` by URL."""

    def __init__(self, script: list[int]) -> None:
        self.script, self.requests = list(script), 0
        self.resources: dict[str, dict] = {}  # type: ignore[type-arg]
        self.accepted = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests += 1
                status = stub.script.pop(0) if stub.script else 200
                if status == 200:
                    fhir.validate(body)
                    for entry in body["entry"]:
                        assert entry["request"]["method"] == "PUT"
                        stub.resources[entry["request"]["url"]] = entry["resource"]
                    stub.accepted += 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/fhir"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_of() -> Iterator:  # type: ignore[type-arg]
    made: list[Stub] = []

    def make(script: list[int]) -> Stub:
        made.append(Stub(script))
        return made[-1]

    yield make
    for s in made:
        s.close()


def dead_url() -> str:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/fhir"


def _batches(store: Store, n: int, per: int = 2) -> list[bytes]:
    """``n`` batches of readings stored, each with its Bundle in the outbox."""
    gen = TelemetryGenerator(3, "P1")
    bodies = []
    for _ in range(n):
        readings = [Reading.from_dict(gen.reading()) for _ in range(per)]
        body = json.dumps(fhir.bundle(readings)).encode()
        store.put(readings, bundle=body, now_ms=1_000)
        bodies.append(body)
    return bodies


def _sender(store: Store, destinations: list, clock: SteppingClock) -> tuple[Sender, Metrics]:  # type: ignore[type-arg]
    metrics = Metrics()
    return Sender(store, destinations, metrics, clock, Backoff(rng=random.Random(1))), metrics


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "twin.db", SECRET)
    yield s
    s.close()


def test_a_bundle_commits_with_its_readings(store: Store) -> None:
    bodies = _batches(store, 3)
    assert store.backlog() == Backlog(unsent=3, parked=0, oldest_ms=1_000)
    assert store.verify().checked == 6
    due = store.outbox_due(1_000)
    assert [e.body for e in due] == bodies and [e.attempts for e in due] == [0, 0, 0]
    assert store.outbox_due(999) == []  # not due before it was made
    assert [e.body for e in store.outbox_due(1_000, limit=2)] == bodies[:2]


def test_the_bundle_is_sealed_at_rest(store: Store) -> None:
    _batches(store, 1)
    store.close()  # checkpointed: the file holds everything
    raw = store.path.read_bytes()
    assert Store(store.path, SECRET).backlog().unsent == 1
    assert b"Observation" not in raw and b"8867-4" not in raw


def test_503_for_a_while_then_200_loses_nothing(store: Store, stub_of) -> None:  # type: ignore[no-untyped-def]
    stub = stub_of([503, 503])
    bodies = _batches(store, 3)
    clock = SteppingClock(1_000)
    sender, metrics = _sender(store, [FHIRServer(stub.url)], clock)
    for _ in range(10):
        due = sender.step()
        if due is None:
            break
        clock.at_ms = max(clock.at_ms, due)
    assert metrics.failures == {"fhir 5xx": 2}
    assert store.backlog() == Backlog(0, 0, None) and sender.sent == 3 == stub.accepted
    expected = {e["request"]["url"] for b in bodies for e in json.loads(b)["entry"]}
    assert set(stub.resources) == expected


@pytest.mark.parametrize("status", [400, 404, 499])
def test_a_4xx_is_parked_named_and_never_retried(store: Store, stub_of, status: int) -> None:  # type: ignore[no-untyped-def]
    stub = stub_of([status])
    _batches(store, 2)
    clock = SteppingClock(1_000)
    sender, metrics = _sender(store, [FHIRServer(stub.url)], clock)
    assert sender.step() is None  # the first parked, the second sent: nothing waits
    assert metrics.failures == {"fhir 4xx": 1} and stub.accepted == 1
    assert store.backlog() == Backlog(unsent=1, parked=1, oldest_ms=1_000)
    assert store.outcomes() == {"fhir 4xx": 1}
    clock.at_ms += 10**9
    assert sender.step() is None and stub.requests == 2  # never asked again


@pytest.mark.parametrize(
    ("status", "outcome", "retry"),
    [
        (199, "fhir unreachable", True),
        (200, None, None),
        (201, None, None),
        (299, None, None),
        (399, "fhir unreachable", True),
        (400, "fhir 4xx", False),
        (407, "fhir 4xx", False),
        (408, "fhir throttled", True),
        (409, "fhir 4xx", False),
        (429, "fhir throttled", True),
        (499, "fhir 4xx", False),
        (500, "fhir 5xx", True),
        (599, "fhir 5xx", True),
    ],
)
def test_each_status_has_its_outcome(status: int, outcome: str | None, retry: bool | None) -> None:
    failed = outcome_of_status(status)
    got = (None, None) if failed is None else (failed.outcome, failed.retry)
    assert got == (outcome, retry)


def test_a_dead_port_is_unreachable_and_stays_pending(store: Store) -> None:
    _batches(store, 2)
    clock = SteppingClock(1_000)
    sender, metrics = _sender(store, [FHIRServer(dead_url())], clock)
    due = sender.step()
    assert metrics.failures == {"fhir unreachable": 1}  # the destination rests: one attempt
    assert due is not None and 1_000 + 250 <= due <= 1_000 + 500
    assert sender.step() == due and metrics.failures == {"fhir unreachable": 1}
    assert store.backlog() == Backlog(unsent=2, parked=0, oldest_ms=1_000)


def test_an_answer_that_is_not_http_is_unreachable_not_a_dead_sender(store: Store) -> None:
    server = socket.create_server(("127.0.0.1", 0))

    def answer_garbage() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"garbage\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    _batches(store, 1)
    url = f"http://127.0.0.1:{server.getsockname()[1]}/fhir"
    sender, metrics = _sender(store, [FHIRServer(url)], SteppingClock(1_000))
    try:
        assert sender.step() is not None  # due again: retried, not raised
    finally:
        server.close()
    assert metrics.failures == {"fhir unreachable": 1}
    assert store.backlog().unsent == 1


@pytest.mark.parametrize(
    ("failed", "bounds"),
    [
        (1, (250, 500)),
        (2, (500, 1_000)),
        (6, (8_000, 16_000)),
        (7, (15_000, 30_000)),
        (20, (15_000, 30_000)),
    ],
)
def test_backoff_doubles_in_its_bounds_up_to_the_cap(failed: int, bounds: tuple[int, int]) -> None:
    backoff = Backoff(rng=random.Random(7))
    assert backoff.bounds_ms(failed) == bounds
    delays = {backoff.delay_ms(failed) for _ in range(200)}
    assert bounds[0] <= min(delays) and max(delays) <= bounds[1] and len(delays) > 1  # jittered


def test_each_retry_waits_longer_on_the_senders_clock(store: Store) -> None:
    _batches(store, 1)
    clock = SteppingClock(1_000)
    sender, metrics = _sender(store, [FHIRServer(dead_url())], clock)
    for attempt in range(1, 6):
        now = clock.at_ms
        due = sender.step()
        assert due is not None
        low, high = sender.backoff.bounds_ms(attempt)
        assert low <= due - now <= high
        clock.at_ms = due - 1
        assert sender.step() == due  # not before its time
        clock.at_ms = due
    assert metrics.failures == {"fhir unreachable": 5}
    assert store.outbox_due(clock.at_ms)[0].attempts == 5


def test_resending_a_delivered_bundle_changes_nothing(store: Store, stub_of) -> None:  # type: ignore[no-untyped-def]
    """A crash between the server's 200 and the outbox's delete sends the bundle again:
    its PUTs land on the same ids."""
    stub = stub_of([])
    [body] = _batches(store, 1)
    FHIRServer(stub.url).deliver(body)
    before = json.dumps(stub.resources, sort_keys=True)
    clock = SteppingClock(1_000)
    sender, metrics = _sender(store, [FHIRServer(stub.url)], clock)
    assert sender.step() is None and metrics.failures == {}
    assert stub.accepted == 2 and json.dumps(stub.resources, sort_keys=True) == before


def test_a_full_disk_is_retried_then_written(store: Store, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _batches(store, 1)
    real, calls = fhir.write, []

    def full_once(data, directory):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(data, directory)

    monkeypatch.setattr(fhir, "write", full_once)
    clock = SteppingClock(1_000)
    sender, metrics = _sender(store, [FHIRDirectory(tmp_path / "out")], clock)
    due = sender.step()
    assert metrics.failures == {"disk full": 1} and store.outcomes() == {"disk full": 1}
    assert due is not None
    clock.at_ms = due
    assert sender.step() is None and store.backlog().unsent == 0
    assert len(list((tmp_path / "out").glob("bundle-*.json"))) == 1


def test_what_a_run_left_unsent_goes_out_after_a_restart(tmp_path: Path, stub_of) -> None:  # type: ignore[no-untyped-def]
    s = Store(tmp_path / "twin.db", SECRET)
    _batches(s, 2)
    s.close()
    stub = stub_of([])
    s = Store(tmp_path / "twin.db", SECRET)
    sender, _ = _sender(s, [FHIRServer(stub.url)], SteppingClock(2_000))
    assert sender.step() is None and stub.accepted == 2 and s.backlog().unsent == 0
    s.close()


def test_the_pipeline_rides_out_a_server_that_answers_503_first(stub_of) -> None:  # type: ignore[no-untyped-def]
    stub = stub_of([503, 503])
    run = simulate(
        SimConfig(patients=2, rate_hz=5, duration_s=1, transport="memory", fhir_url=stub.url)
    )
    assert run.counts["lost"] == 0 and run.counts["delivered"] == run.counts["sent"] > 0
    assert run.failures == {"fhir 5xx": 2}
    assert (run.fhir_unsent, run.fhir_oldest_unsent_s) == (0, None)
    observations = [u for u in stub.resources if u.startswith("Observation/")]
    assert len(observations) == 3 * run.counts["delivered"]  # nothing lost, nothing twice


def test_simulate_against_a_dead_fhir_server_exits_1_with_the_backlog() -> None:
    from dthq.cli.main import main

    argv = ["simulate", "--transport", "memory", "--patients", "1", "--rate", "2"]
    argv += ["--duration", "1", "--fhir-url", dead_url(), "--drain", "1"]
    out = CliRunner().invoke(main, argv)
    assert out.exit_code == 1, out.output
    last = out.output.splitlines()[-1]
    assert last.startswith("FHIR: ") and " bundles unsent (oldest " in last, last
    assert "; failures: fhir unreachable " in last
    assert "lost 0" in out.output  # the readings are stored: only FHIR is behind
    out = CliRunner().invoke(main, [*argv, "--json"])
    assert out.exit_code == 1
    run = json.loads(out.stdout)
    assert run["fhir_unsent"] >= 1 and run["failures"]["fhir unreachable"] >= 1
    assert run["fhir_oldest_unsent_s"] > 0
