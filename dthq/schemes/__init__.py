"""Schemes: the interface every scheme offers, its registry, and DTHQ as a scheme.

Other schemes (this project's baselines, third-party ones) arrive as entry points of
the ``dthq.schemes`` group through :func:`load_plugins`.
"""

from dthq.schemes.base import (
    ENTRY_POINT_GROUP,
    QUANTUM_SAFE,
    SCHEMES,
    Channel,
    Scheme,
    Session,
    load_plugins,
)
from dthq.schemes.dthq import DTHQScheme

SCHEMES.register("dthq", "dthq", lambda: DTHQScheme)

__all__ = [
    "ENTRY_POINT_GROUP",
    "QUANTUM_SAFE",
    "SCHEMES",
    "Channel",
    "DTHQScheme",
    "Scheme",
    "Session",
    "load_plugins",
]
