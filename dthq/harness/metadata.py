"""Machine and library metadata for every result (after pyperf's metadata)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

LIBRARIES = (
    "cryptography",
    "pycryptodome",
    "pyOpenSSL",
    "lz4",
    "brotli",
    "liboqs-python",
    "pytest-benchmark",
    "click",
    "tabulate",
    "matplotlib",
)


def _cpu() -> dict[str, Any]:
    info: dict[str, Any] = {"model": platform.processor() or "unknown", "flags": []}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name" and info["model"] in ("unknown", "", platform.machine()):
                info["model"] = value
            elif key == "flags" and not info["flags"]:
                # The flags that decide AEAD and hash speed, not the whole list.
                wanted = {
                    "aes",
                    "pclmulqdq",
                    "avx",
                    "avx2",
                    "avx512f",
                    "sha_ni",
                    "vaes",
                    "vpclmulqdq",
                    "bmi2",
                    "adx",
                }
                info["flags"] = sorted(wanted.intersection(value.split()))
    return info


def _version(dist: str) -> str | None:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return None


def _openssl_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"cryptography": None, "pyOpenSSL": None}
    try:
        from cryptography.hazmat.backends.openssl.backend import backend

        out["cryptography"] = backend.openssl_version_text()
    except ImportError:
        pass
    try:
        from OpenSSL import SSL

        out["pyOpenSSL"] = SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()
    except ImportError:
        pass
    return out


def collect() -> dict[str, Any]:
    from dthq.crypto.kem.liboqs import probe

    liboqs_path, liboqs_reason = probe()
    cpu = _cpu()
    return {
        "cpu_model": cpu["model"],
        "cpu_flags": cpu["flags"],
        "cpu_count": os.cpu_count(),
        "cpu_affinity": sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "machine": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "openssl": _openssl_versions(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "liboqs": {
            "present": liboqs_path is not None,
            "path": str(liboqs_path) if liboqs_path else None,
            "reason": liboqs_reason,
        },
    }
