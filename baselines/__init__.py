"""Other schemes behind dthq's scheme interface: RSA-2048, ECC-256, TLS 1.3.

Imports only dthq's public API (``import dthq``), never its internals. Importing
this package registers the baselines in ``dthq.SCHEMES``.
"""

from __future__ import annotations

import dthq

_BASELINES = {
    "rsa-2048": ("baselines.rsa", "RSA2048Scheme"),
    "ecc-256": ("baselines.ecc", "ECC256Scheme"),
    "tls13": ("baselines.tls", "TLS13Scheme"),
}


def _loader(module: str, attr: str):  # type: ignore[no-untyped-def]
    def load():  # type: ignore[no-untyped-def]
        import importlib

        return getattr(importlib.import_module(module), attr)

    return load


def register() -> None:
    registered = dthq.SCHEMES.names(available_only=False)
    for name, (module, attr) in _BASELINES.items():
        if name not in registered:
            dthq.SCHEMES.register(name, "baselines", _loader(module, attr))


register()
