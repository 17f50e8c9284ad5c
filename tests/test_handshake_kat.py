"""Known answers for the whole psk handshake and its first records: every flight, both
traffic secrets, the transcript hash and sealed records, byte for byte.

ML-KEM's own randomness is beyond the caller's reach (OpenSSL draws it), so a stand-in
KEM with fixed outputs takes its place: what is pinned is everything DTHQ itself puts
on the wire and derives (wire format, key schedule, record layer), which no speed-up
may change. The KEM has its own vectors (test_kem_vectors.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from dthq.crypto.kem import SPECS, KEMSpec
from dthq.protocol import handshake as handshake_module
from dthq.protocol import keyexchange
from dthq.protocol.config import Auth, InitiatorConfig, PeerRecord, ResponderConfig
from dthq.protocol.handshake import Initiator, Responder
from dthq.protocol.keyschedule import KeySchedule, SessionKeys, next_traffic_keys, traffic_keys
from dthq.protocol.record import RecordLayer, RekeyPolicy
from dthq.protocol.suites import SUITES, Suite


def _fixed(label: bytes, size: int) -> bytes:
    """``size`` reproducible bytes named by ``label``."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(label + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:size]


class _FixedKey:
    def __init__(self, spec: KEMSpec, secret: bytes) -> None:
        self._spec, self._secret = spec, secret

    def decapsulate(self, ciphertext: bytes) -> bytes:
        assert ciphertext == _fixed(b"ct" + self._secret, self._spec.ct_size)
        return self._secret


class _FixedKEM:
    """A KEM whose key pair, ciphertext and shared secret are fixed functions of a counter."""

    backend = "fixed"

    def __init__(self, spec: KEMSpec) -> None:
        self.spec = spec
        self._count = 0

    def generate(self, seed: bytes | None = None) -> tuple[_FixedKey, bytes]:
        self._count += 1
        secret = _fixed(b"ss%d" % self._count, self.spec.ss_size)
        return _FixedKey(self.spec, secret), _fixed(b"ek" + secret, self.spec.ek_size)

    def encapsulate(self, ek: bytes) -> tuple[bytes, bytes]:
        for count in range(1, self._count + 1):  # the key pair this ek came from
            secret = _fixed(b"ss%d" % count, self.spec.ss_size)
            if ek == _fixed(b"ek" + secret, self.spec.ek_size):
                return _fixed(b"ct" + secret, self.spec.ct_size), secret
        raise AssertionError("an encapsulation key this KEM did not make")


def _randoms(label: bytes) -> Callable[[int], bytes]:
    calls = iter(range(100))
    return lambda size: _fixed(label + b"%d" % next(calls), size)


@pytest.fixture
def fixed_kem(monkeypatch: pytest.MonkeyPatch) -> _FixedKEM:
    kem = _FixedKEM(SPECS["ML-KEM-768"])
    for module in (keyexchange, handshake_module):
        monkeypatch.setattr(module, "get_kem", lambda name, backend=None: kem)
    return kem


def _handshake(
    kem: _FixedKEM, suite: Suite, auth: Auth
) -> tuple[list[bytes], Initiator, Responder]:
    psk = _fixed(b"psk", suite.hash_len)
    static_keys = {}
    kem_key = None
    if auth.static_kem:  # B's static KEM key pair, made before the handshake
        static, kem_key = kem.generate()
        static_keys = {kem.spec.name: static}
    at_a = PeerRecord(auth, psk=psk, kem_key=kem_key)
    at_b = PeerRecord(auth, psk=psk)
    config_a = InitiatorConfig(b"device-A", b"service-B", suite, at_a)
    config_b = ResponderConfig(b"service-B", {b"device-A": at_b}, static_kem_keys=static_keys)
    a = Initiator(config_a, random=_randoms(b"A"))
    b = Responder(config_b, random=_randoms(b"B"))
    hello = a.start()
    reply = b.receive(hello, 0)
    assert reply is not None
    finish = a.receive(reply)
    assert b.receive(finish, 0) is None
    return [hello, reply, finish], a, b


def _digest(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(len(p).to_bytes(4, "big") + p for p in parts)).hexdigest()


CASES = [(wire_id, Auth.PSK) for wire_id in sorted(SUITES)] + [(0x02, Auth.KEM_PSK)]


def _records(keys_a: SessionKeys, keys_b: SessionKeys) -> str:
    """Records both ways, over two key epochs (a rekey every 2 records)."""
    rekey = RekeyPolicy(max_records=2)
    la = RecordLayer.from_keys(keys_a, 1000, rekey=rekey)
    lb = RecordLayer.from_keys(keys_b, 1000, rekey=rekey)
    sealed = []
    for i in range(3):
        payload = b"reading %d" % i
        to_b, to_a = la.seal(payload, 1000 + i), lb.seal(payload[::-1], 1000 + i)
        assert lb.open(to_b, 1000 + i) == payload and la.open(to_a, 1000 + i) == payload[::-1]
        sealed += [to_b, to_a]
    return _digest(*sealed)


def _schedule(suite: Suite) -> str:
    """The key schedule's every output, driven directly."""
    schedule = KeySchedule(suite, _fixed(b"psk", suite.hash_len))
    schedule.mix_shared_secret(_fixed(b"shared", 32))
    th = schedule.transcript_hash(b"hello", b"reply")
    outputs = [th, schedule.confirm_mac(b"a", th), schedule.confirm_mac(b"b", th)]
    a2b, b2a = schedule.traffic_secrets(th)
    first = traffic_keys(suite, a2b)
    second = next_traffic_keys(suite, first)
    outputs += [a2b, b2a, first.key, first.iv, second.secret, second.key, second.iv]
    return _digest(*outputs)


# (flights, A->B secret, B->A secret, transcript hash, records, key schedule), as the
# code made them before any speed-up; the long values are SHA-256 digests of the outputs.
EXPECTED: dict[tuple[int, Auth], tuple[str, ...]] = {
    (0x01, Auth.PSK): (
        "0267c676719ff2e492b7abe8e1c63e21a3f5cf9e12ef1ce7582f75b55e05797c",
        "8d61e145b4433947aa8ab1bc71e0f4276d6e1e1f2f4161b741b9c68bb5bdd284",
        "97ee93bcf3683ba5a3e71292a48552bf07bf9119d7512f1863efb5ac018d1986",
        "47215527204f44513d46830a1d4f4e61e5be4d1c24fdeb685d0a86bcd2a4ab39",
        "a7c555b4699c2d200c0030b69e28505e26278843b071e6477222bf5300019cd3",
        "a3312427b90c8d2994d4d7c9721adb52a7c6eb90ec287a57cb7502ced3997d5e",
    ),
    (0x02, Auth.PSK): (
        "d712100dcee95c1c7090fa05fe22e123165555629a8f6e30c27b9b57c32a93f4",
        "c3f90589dc994bb7cd7bbf6df18b348658a1e733a6b0281a031149dd0897b52e",
        "a6c1446950b50a7f1eaf13632c0acf38d130d72a481ae50c1f79447d60632e7d",
        "49c2fffeeb830ce255bd15347f275c13281354ccc71eb6daeb5a46c9c5b43e4c",
        "c7da35b8a7a2917002f38841bfef165b366c1916060ad12c26d9357e79a375d8",
        "b47d20659d73031076af68fd9395a39e6b7e9d1a435297bc6b5c0193838c10e0",
    ),
    (0x03, Auth.PSK): (
        "95fb238a3ba487174df8a1fb6cc9aef577e8d6fd71ac03943c67188e9e612f95",
        "13f02113670dabca8ac27adcab63917781c38220dac55bada9e60fff12e37d22",
        "ba2ac84f705fc73b86209403c1654c21c195a6381b9d001995eb81961bc9a1df",
        "798e29b126bc90e756258fc191ee7a3c746f05cfcaced4b68c51318f8ae9fb8c",
        "2d9b4e03af11a2eab7cdbe24e9e79e785e9eeccd27ad1792d86ecfa8a309d6b2",
        "b47d20659d73031076af68fd9395a39e6b7e9d1a435297bc6b5c0193838c10e0",
    ),
    (0x04, Auth.PSK): (
        "eff70139b19a9291e00260f6833dd654a2ac567761ad1d8b7657f0607842b142",
        "286eede35780b4bdbe7d9621d1010cdea9fb73ddcbe49dd05a805419e908db905baff16a9d8192d8a430ccd34f532298579d1b88da6633fde360321484da6d3f",
        "f6dc0ac9b004cd108c953ed057c23daecc588351e239dd384346c215a7fbdf9b643c57e98f18187e45cf33a53a19f1795a57cc630e764c2d5a9e9ee3ac0eb8ab",
        "25e4c4e65548a8fbc4009b3454d148f0780795a5c70a08a1eb71aa6a93d737adda84da7c47654a58b3a88fa3ce23e1ade57494a7a63ec2e8a3937a1149a06538",
        "272ab1e45753a6d73810cf1f89fd6cb4debbbd691c0f35a87aca89ab6ce94fa0",
        "b60a79453fc25e28a1a02a0494f4841c3fb0eeb5838d3cf3487c9238a5c64be1",
    ),
    (0x02, Auth.KEM_PSK): (
        "9ca0a1923643e39156e709ae171148af9830be5c4fa7afe37971986a59e241fe",
        "3753d1e476a71b2ff3e7d16d88ffc9838f2a1297ce96f856c77c136f2ff2f27d",
        "7f6752dce13fa8651f0b30df2d99a947fbcdbbbd2f318fa4fddbfd78eea72351",
        "e341cf9f2591aebbba87542316189069aa5f80f4f36ca574d3aefea0b3e27420",
        "05253a8958522027c100268c80c87d7c3d302b92090edac8fea0bb8ebe35181a",
        "b47d20659d73031076af68fd9395a39e6b7e9d1a435297bc6b5c0193838c10e0",
    ),
}


@pytest.mark.parametrize(("wire_id", "auth"), CASES, ids=[f"{w}-{a.name}" for w, a in CASES])
def test_flights_secrets_and_records(fixed_kem: _FixedKEM, wire_id: int, auth: Auth) -> None:
    suite = SUITES[wire_id]
    flights, a, b = _handshake(fixed_kem, suite, auth)
    keys_a, keys_b = a.session_keys(), b.session_keys()
    assert (keys_a.a2b, keys_a.b2a, keys_a.transcript_hash) == (
        keys_b.a2b,
        keys_b.b2a,
        keys_b.transcript_hash,
    )
    got = (
        _digest(*flights),
        keys_a.a2b.hex(),
        keys_a.b2a.hex(),
        keys_a.transcript_hash.hex(),
        _records(keys_a, keys_b),
        _schedule(suite),
    )
    assert got == EXPECTED[(wire_id, auth)]
