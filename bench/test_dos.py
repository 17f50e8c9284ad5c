"""What a replayed or forged HELLO costs B, with and without the stateless retry cookie,
and how many bytes B sends back for it (the amplification an attacker gets)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.provision import scheme
from bench.tags import Suite, tag
from dthq.protocol.handshake import Initiator, Responder


@pytest.mark.parametrize("retry", ["never", "always"])
@pytest.mark.parametrize("auth", ["psk", "mldsa"])
def test_forged_hello(benchmark: Any, auth: str, retry: str) -> None:
    s = scheme("dthq", auth=auth, retry=retry)
    hello = Initiator(s.initiator_config).start()  # a genuine HELLO, replayed: the worst case

    def handle() -> bytes | None:
        return Responder(s.responder_config).receive(hello, 0)

    response = handle()
    assert response is not None
    tag(
        benchmark,
        Suite.FORGED_HELLO,
        auth=auth,
        retry=retry,
        hello_bytes=len(hello),
        response_bytes=len(response),
    )
    benchmark(handle)
