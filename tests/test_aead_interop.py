"""The two AEAD backends agree byte for byte and open each other's ciphertexts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dthq.crypto.aead import SPECS, get_aead
from dthq.errors import AuthenticationError


@pytest.mark.parametrize("name", list(SPECS))
@given(data=st.data())
def test_backends_interoperate(name: str, data: st.DataObject) -> None:
    spec = SPECS[name]
    key = data.draw(st.binary(min_size=spec.key_size, max_size=spec.key_size), label="key")
    nonce = data.draw(st.binary(min_size=spec.nonce_size, max_size=spec.nonce_size), label="nonce")
    aad = data.draw(st.binary(max_size=256), label="aad")
    message = data.draw(st.binary(max_size=2048), label="message")
    pyca = get_aead(name, "cryptography").new(key)
    dome = get_aead(name, "pycryptodome").new(key)
    sealed = pyca.encrypt(nonce, message, aad)
    assert dome.encrypt(nonce, message, aad) == sealed
    assert len(sealed) == len(message) + spec.tag_size
    assert dome.decrypt(nonce, sealed, aad) == message
    assert pyca.decrypt(nonce, sealed, aad) == message
    tampered = bytes([sealed[0] ^ 1]) + sealed[1:]
    for cipher in (pyca, dome):
        with pytest.raises(AuthenticationError):
            cipher.decrypt(nonce, tampered, aad)
