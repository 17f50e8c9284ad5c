"""Codecs, adaptive fallback, edge profiles, and the telemetry generator."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dthq.errors import DecodeError, UnsupportedError
from dthq.harness.telemetry import SIZES, TelemetryGenerator
from dthq.protocol.compression import (
    DECODERS,
    EDGE_PROFILES,
    NONE_ID,
    compress_adaptive,
    edge_profile,
    make_codec,
)

CODECS = ["none", "lz4", "brotli"]


@pytest.mark.parametrize("name", CODECS)
@given(data=st.binary(max_size=5000))
def test_codecs_round_trip(name: str, data: bytes) -> None:
    codec = make_codec(name)
    assert codec.decompress(codec.compress(data), len(data)) == data


@pytest.mark.parametrize("name", ["lz4", "brotli"])
@given(junk=st.binary(max_size=300))
def test_corrupt_input_is_a_decode_error(name: str, junk: bytes) -> None:
    with contextlib.suppress(DecodeError):
        make_codec(name).decompress(junk, 1 << 16)


def test_lz4_size_prefix_checked_before_allocation() -> None:
    with pytest.raises(DecodeError, match="claims"):
        make_codec("lz4").decompress(b"\xff\xff\xff\x7f" + b"\x00" * 8, 1 << 20)
    with pytest.raises(DecodeError, match="no size prefix"):
        make_codec("lz4").decompress(b"\x01", 10)


def test_brotli_truncated_stream() -> None:
    packed = make_codec("brotli").compress(TelemetryGenerator().payload("medium"))
    with pytest.raises(DecodeError):
        make_codec("brotli").decompress(packed[: len(packed) // 2], 1 << 16)


def test_adaptive_fallback_to_raw_for_one_reading() -> None:
    reading = TelemetryGenerator().payload("small")
    codec_id, body = compress_adaptive(make_codec("lz4"), reading)
    assert (codec_id, body) == (NONE_ID, reading)


@pytest.mark.parametrize("name", ["lz4", "brotli"])
def test_windows_compress(name: str) -> None:
    window = TelemetryGenerator().payload("large")
    codec_id, body = compress_adaptive(make_codec(name), window)
    assert codec_id != NONE_ID and len(body) < len(window) * 0.7
    assert DECODERS[codec_id].decompress(body, len(window)) == window


def test_edge_profiles() -> None:
    assert edge_profile("far").codec == "lz4" and edge_profile("near").codec == "brotli"
    assert set(EDGE_PROFILES) == {"far", "near"}
    assert "modelled" in edge_profile("far").link
    with pytest.raises(UnsupportedError):
        edge_profile("mid")
    with pytest.raises(UnsupportedError):
        make_codec("zstd")
    with pytest.raises(UnsupportedError):
        make_codec("brotli", brotli_quality=12)


def test_telemetry_is_reproducible_and_sized() -> None:
    for size in SIZES:
        assert TelemetryGenerator(7).payload(size) == TelemetryGenerator(7).payload(size)
    assert TelemetryGenerator(7).payload("small") != TelemetryGenerator(8).payload("small")
    small = TelemetryGenerator(1).payload("small")
    assert 80 <= len(small) <= 120
    assert len(TelemetryGenerator(1).payload("medium")) == 4096
    assert len(TelemetryGenerator(1).payload("large")) == 16384
    with pytest.raises(UnsupportedError):
        TelemetryGenerator().payload("huge")


def test_telemetry_is_plausible_physiology() -> None:
    gen = TelemetryGenerator(42)
    readings = [json.loads(gen.payload("small")) for _ in range(600)]
    for r in readings:
        assert 40 <= r["hr"] <= 130
        assert 90 <= r["spo2"] <= 100
        assert 35.5 <= r["temp"] <= 38.0
    assert len({r["hr"] for r in readings}) > 3  # it varies
    ts = [r["ts"] for r in readings]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    window = json.loads(gen.payload("medium"))
    ppg = [s for r in window["readings"] for s in r["ppg_ir"]]
    assert len(ppg) > 100
    dc = sum(ppg) / len(ppg)
    assert 50_000 < dc < 2**18  # 18-bit ADC counts
    assert 0.005 < (max(ppg) - min(ppg)) / dc < 0.1  # a pulsatile component of a few percent
