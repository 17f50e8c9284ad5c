"""Primitives behind registries: AEAD, KEM backends, ML-DSA signatures, HKDF."""
