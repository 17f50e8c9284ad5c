"""Other schemes behind dthq's scheme interface: RSA-2048, ECC-256, TLS 1.3.

Imports only dthq's public API (``import dthq``), never its internals. Each scheme is
declared as an entry point of the ``dthq.schemes`` group in pyproject.toml, exactly as a
third-party scheme would be; ``dthq.load_plugins()`` registers them.
"""
