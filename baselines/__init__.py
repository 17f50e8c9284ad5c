"""Other schemes (RSA-2048, ECC-256, TLS 1.3) behind dthq's scheme interface.

Imports only dthq's public API (``import dthq``), never its internals.
"""
