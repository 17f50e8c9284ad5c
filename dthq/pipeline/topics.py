"""Topics and frames: what the pipeline's parties publish where.

Each DTHQ session has a request topic (initiator -> responder) and a response topic
(responder -> initiator); the device id or gateway id is a topic level, so a broker
ACL can confine each party to its own. Every message starts with one frame byte:
a handshake flight, a record, a CONFIRM (the responder's first record under a new
session's keys: the initiator's proof that the responder holds it) or a NO_SESSION
(one byte, unauthenticated: the responder found no session for the records it got).
Record payloads are JSON (a reading from a device; a batch of readings from the
gateway; the watch list from the cloud).
"""

from __future__ import annotations

import json
import re
from typing import Any

from dthq.errors import DecodeError

PREFIX = "dthq/v1"
FLIGHT, RECORD, CONFIRM, NO_SESSION = 0x01, 0x02, 0x03, 0x04
FRAMES = (FLIGHT, RECORD, CONFIRM, NO_SESSION)
# The largest record payload a party accepts: a §7.1 sweep's 100 MB message, and its batch
# (one such reading alone: the gateway closes a batch at MAX_BATCH_BYTES).
MAX_PAYLOAD = 128 << 20
_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def check_party_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise DecodeError(f"{what} {value!r}: 1..32 letters, digits, '-' or '_'")
    return value


def device_up(device: str) -> str:
    return f"{PREFIX}/dev/{device}/up"


def device_down(device: str) -> str:
    return f"{PREFIX}/dev/{device}/down"


def gateway_up(gateway: str) -> str:
    return f"{PREFIX}/gw/{gateway}/up"


def gateway_down(gateway: str) -> str:
    return f"{PREFIX}/gw/{gateway}/down"


ALL_DEVICES_UP = f"{PREFIX}/dev/+/up"


def shared(group: str, pattern: str) -> str:
    """An MQTT 5 shared subscription: the broker hands each message to one member."""
    return f"$share/{group}/{pattern}"


def pool_forward(member: str, device: str) -> str:
    """Where a gateway pool member hands a device's message to the member that owns it."""
    return f"{PREFIX}/pool/{member}/{device}"


def pool_inbox(member: str) -> str:
    return f"{PREFIX}/pool/{member}/+"


ALL_GATEWAYS_UP = f"{PREFIX}/gw/+/up"


def party_of(topic: str) -> str:
    """The device or gateway id a ``.../up`` or ``.../down`` topic belongs to."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != PREFIX or parts[4] not in ("up", "down"):
        raise DecodeError(f"topic {topic!r} is not a pipeline topic")
    return check_party_id(parts[3], "party id")


def frame(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + body


NO_SESSION_FRAME = bytes([NO_SESSION])


def unframe(data: bytes) -> tuple[int, bytes]:
    if not data:
        raise DecodeError("message of 0 bytes is too short for a frame")
    if data[0] not in FRAMES:
        raise DecodeError(f"unknown frame type 0x{data[0]:02x}")
    if data[0] == NO_SESSION:
        if len(data) != 1:
            raise DecodeError(f"a NO_SESSION frame is 1 byte, got {len(data)}")
    elif len(data) < 2:
        raise DecodeError(f"message of {len(data)} bytes is too short for a frame")
    return data[0], data[1:]


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def decode_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"{what} is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise DecodeError(f"{what} is not a JSON object")
    return obj
