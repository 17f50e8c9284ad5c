"""The optional liboqs backend, and the probe that keeps it from building itself.

liboqs-python, when it cannot load the liboqs shared library at import, git-clones
and builds liboqs with cmake. That must never happen here (no network, no surprise
builds), so we look for the library ourselves, load it with ctypes to be sure it
works, and import ``oqs`` only then. The probe reads the file system only: no
``ctypes.util.find_library``, which runs ``ldconfig`` in a subprocess.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dthq.crypto.kem.spec import KEM, DecapsulationKey, KEMSpec, check_ct, check_ek, check_seed
from dthq.errors import DecodeError

if TYPE_CHECKING:
    from dthq.crypto.registry import Registry

_SYSTEM_DIRS = (
    "/usr/local/lib",
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
)


def candidate_dirs() -> list[Path]:
    """Where liboqs-python itself would look, then the usual system places."""
    install = Path(os.environ.get("OQS_INSTALL_PATH") or Path.home() / "_oqs")
    dirs = [install / "lib", install / "lib64"]
    dirs += [Path(p) for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    dirs += [Path(p) for p in _SYSTEM_DIRS]
    return dirs


LIBRARY = "liboqs.so"  # the only name liboqs-python loads; a versioned file alone is not enough


def probe() -> tuple[Path | None, str]:
    """(path of a loadable liboqs, "") or (None, the reason it is unavailable).

    The probe follows liboqs-python's own loader: it loads the unversioned
    ``liboqs.so`` and nothing else, so a directory holding only ``liboqs.so.0.16.0``
    would pass a looser probe and then send liboqs-python to its git-clone auto-build.
    """
    tried: list[str] = []
    for directory in candidate_dirs():
        path = directory / LIBRARY
        if not path.exists():
            versioned = sorted(directory.glob(f"{LIBRARY}.*")) if directory.is_dir() else []
            if versioned:
                tried.append(
                    f"{directory} holds only {versioned[0].name}, and liboqs-python loads "
                    f"{LIBRARY} (link it there)"
                )
            continue
        try:
            ctypes.CDLL(str(path))
        except OSError as exc:
            tried.append(f"{path} does not load ({exc})")
            continue
        return path, ""
    where = ", ".join(str(d) for d in candidate_dirs()[:2])
    detail = f"; {'; '.join(tried)}" if tried else ""
    return None, (
        f"liboqs shared library not found (looked in {where}, LD_LIBRARY_PATH and system "
        f"lib dirs){detail}; set OQS_INSTALL_PATH to a liboqs install to enable it"
    )


def import_oqs() -> object:
    """``import oqs`` without letting it write to stdout: liboqs-python prints a line and
    attaches a stdout log handler at import, which would corrupt ``--json`` output. Only
    called once probe() found the library (so the import cannot start a build)."""
    import contextlib
    import io
    import logging
    import sys

    swallowed = io.StringIO()
    with contextlib.redirect_stdout(swallowed):
        import oqs
    for name in ("oqs", "oqs.oqs", ""):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if getattr(handler, "stream", None) in (swallowed, sys.stdout, sys.__stdout__):
                logger.removeHandler(handler)
    return oqs


class _OqsDecapsulationKey:
    def __init__(self, kem: object, spec: KEMSpec) -> None:
        self._kem = kem
        self._spec = spec

    def decapsulate(self, ciphertext: bytes) -> bytes:
        check_ct(self._spec, ciphertext)
        return bytes(self._kem.decap_secret(ciphertext))  # type: ignore[attr-defined]


class OqsKEM:
    backend = "liboqs"

    def __init__(self, spec: KEMSpec) -> None:
        self.spec = spec
        self._oqs = import_oqs()

    def generate(self, seed: bytes | None = None) -> tuple[DecapsulationKey, bytes]:
        kem = self._oqs.KeyEncapsulation(self.spec.name)
        if seed is None:
            ek = kem.generate_keypair()
        else:
            check_seed(self.spec, seed)
            ek = kem.generate_keypair_seed(seed)
        return _OqsDecapsulationKey(kem, self.spec), bytes(ek)

    def encapsulate(self, ek: bytes) -> tuple[bytes, bytes]:
        check_ek(self.spec, ek)
        with self._oqs.KeyEncapsulation(self.spec.name) as kem:
            try:
                ct, ss = kem.encap_secret(ek)
            except RuntimeError:
                raise DecodeError(f"{self.spec.name} encapsulation key is malformed") from None
        return bytes(ct), bytes(ss)


def register(registry: Registry[KEM], specs: list[KEMSpec]) -> None:
    path, reason = probe()
    if path is not None and importlib.util.find_spec("oqs") is None:  # finds, never imports
        path, reason = None, "liboqs-python is not installed (pip install 'dthq-bench[liboqs]')"
    for spec in specs:
        if path is None:
            registry.register_unavailable(spec.name, "liboqs", reason)
        else:
            registry.register(spec.name, "liboqs", lambda spec=spec: OqsKEM(spec))
