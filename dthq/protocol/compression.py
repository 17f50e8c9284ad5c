"""Payload codecs and edge profiles: LZ4 at the far edge, Brotli at the near edge.

Compression happens before encryption; the codec id travels in the record
header. ``compress_adaptive`` sends the payload raw when the codec does not
shrink it (a ~100-byte reading grows under most framings).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from dthq.errors import DecodeError, UnsupportedError

NONE_ID, LZ4_ID, BROTLI_ID = 0, 1, 2


class Codec(Protocol):
    name: str
    codec_id: int

    def compress(self, data: bytes) -> bytes: ...

    def decompress(self, data: bytes, max_size: int) -> bytes:
        """Inverse of compress; output larger than ``max_size`` raises DecodeError."""
        ...


class Raw:
    name = "none"
    codec_id = NONE_ID

    def compress(self, data: bytes) -> bytes:
        return data

    def decompress(self, data: bytes, max_size: int) -> bytes:
        if len(data) > max_size:
            raise DecodeError(f"payload of {len(data)} bytes exceeds the {max_size}-byte limit")
        return data


class LZ4Block:
    """LZ4 block format behind a 4-byte little-endian size (not the bulkier frame format)."""

    name = "lz4"
    codec_id = LZ4_ID

    def __init__(self) -> None:
        import lz4.block

        self._block = lz4.block

    def compress(self, data: bytes) -> bytes:
        return self._block.compress(data, mode="default", store_size=True)

    def decompress(self, data: bytes, max_size: int) -> bytes:
        if len(data) < 4:
            raise DecodeError(f"LZ4 block of {len(data)} bytes has no size prefix")
        (size,) = struct.unpack_from("<I", data)
        if size > max_size:  # checked before allocating anything
            raise DecodeError(f"LZ4 block claims {size} bytes, over the {max_size}-byte limit")
        try:
            out = self._block.decompress(data[4:], uncompressed_size=size)
        except self._block.LZ4BlockError as exc:
            raise DecodeError(f"LZ4 block is corrupt ({exc})") from None
        if len(out) != size:
            raise DecodeError(f"LZ4 block decoded to {len(out)} bytes, header said {size}")
        return out


class Brotli:
    name = "brotli"
    codec_id = BROTLI_ID

    def __init__(self, quality: int = 5) -> None:
        import brotli

        if not 0 <= quality <= 11:
            raise UnsupportedError(f"Brotli quality must be 0..11, got {quality}")
        self.quality = quality
        self._brotli = brotli

    def compress(self, data: bytes) -> bytes:
        return self._brotli.compress(data, quality=self.quality)

    def decompress(self, data: bytes, max_size: int) -> bytes:
        decoder = self._brotli.Decompressor()
        try:
            # The output limit stops a decompression bomb before it is expanded.
            out = decoder.process(data, output_buffer_limit=max_size + 1)
        except self._brotli.error as exc:
            raise DecodeError(f"Brotli stream is corrupt ({exc})") from None
        if len(out) > max_size:
            raise DecodeError(f"Brotli stream expands past the {max_size}-byte limit")
        if not decoder.is_finished():
            raise DecodeError("Brotli stream is truncated")
        return out


def make_codec(name: str, *, brotli_quality: int = 5) -> Codec:
    if name == "none":
        return Raw()
    if name == "lz4":
        return LZ4Block()
    if name == "brotli":
        return Brotli(brotli_quality)
    raise UnsupportedError(f"unknown codec {name!r}; choose none, lz4 or brotli")


# Decoders by header id; decoding needs no settings (Brotli quality is encode-only).
DECODERS: dict[int, Codec] = {c.codec_id: c for c in (Raw(), LZ4Block(), Brotli())}


def compress_adaptive(codec: Codec, data: bytes) -> tuple[int, bytes]:
    """(codec id, body): the compressed body if it is smaller, else the raw payload."""
    if codec.codec_id == NONE_ID:
        return NONE_ID, data
    packed = codec.compress(data)
    if len(packed) < len(data):
        return codec.codec_id, packed
    return NONE_ID, data


@dataclass(frozen=True)
class EdgeProfile:
    """Where the device sits: which codec it uses and which link the reports model."""

    name: str
    codec: str
    link: str


EDGE_PROFILES: dict[str, EdgeProfile] = {
    "far": EdgeProfile("far", "lz4", "Wi-Fi 802.11n (modelled)"),
    "near": EdgeProfile("near", "brotli", "wired Ethernet (modelled)"),
}


def edge_profile(name: str) -> EdgeProfile:
    try:
        return EDGE_PROFILES[name]
    except KeyError:
        raise UnsupportedError(f"unknown edge type {name!r}; choose far or near") from None
