"""A FHIR server stand-in on loopback for the suite: takes transaction Bundles (POST),
answers 503 while it is told to fail, and records which readings' Observations it has
received (a reading is identified by its patient and its effective time, as the
pipeline's FHIR mapping writes them)."""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dthq.pipeline.metrics import Key

MAX_BODY = 64 << 20


def readings_in(bundle: dict[str, object]) -> list[Key]:
    """(patient id, ts ms) of each reading whose Observations the bundle carries."""
    entries = [e["resource"] for e in bundle.get("entry", [])]  # type: ignore[attr-defined]
    patients = {
        r["id"]: r["identifier"][0]["value"] for r in entries if r["resourceType"] == "Patient"
    }
    keys = set()
    for r in entries:
        if r["resourceType"] == "Observation":
            when = datetime.datetime.fromisoformat(r["effectiveDateTime"])
            pid = patients[r["subject"]["reference"].split("/", 1)[1]]
            keys.add((pid, round(when.timestamp() * 1000)))
    return sorted(keys)


class FHIRStub:
    def __init__(self) -> None:
        # Each reading, and the distinct bundles (by digest) that carried it: the same
        # bundle again is the outbox resending (idempotent), another one a duplicate.
        self.received: dict[Key, set[bytes]] = {}
        self.failing = threading.Event()
        self.answered: Counter[int] = Counter()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, MAX_BODY))
                status = 503 if stub.failing.is_set() else 200
                if status == 200:
                    digest = hashlib.sha256(body).digest()
                    for key in readings_in(json.loads(body)):
                        stub.received.setdefault(key, set()).add(digest)
                stub.answered[status] += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/fhir"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def distinct(self) -> dict[Key, int]:
        """How many distinct bundles carried each reading."""
        return {key: len(bundles) for key, bundles in self.received.items()}

    def __enter__(self) -> FHIRStub:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
