"""DTHQ in a QKD mode (``qkd`` or ``qkd+mlkem``) as a scheme: provisioning brings Q, a key
manager fed by the SIMULATED BB84 link, and hands each party its view of it. Declared as
the ``dthq-qkd`` entry point, so it joins the registry like any plug-in."""

from __future__ import annotations

from typing import Any

from dthq.qkd.kme import KeyManager, SAEKeys
from dthq.schemes.dthq import DEVICE_ID, SERVICE_ID, DTHQScheme


class QKDScheme(DTHQScheme):
    name = "dthq-qkd"
    simulated = True  # Q's keys come from a simulated link: say so wherever it shows

    def __init__(
        self,
        *,
        mode: str = "qkd",
        key_manager: KeyManager | None = None,
        pool_keys: int = 4096,
        **options: Any,
    ) -> None:
        kme = key_manager or KeyManager(
            DEVICE_ID.decode(), SERVICE_ID.decode(), max_key_count=pool_keys
        )
        self.key_manager = kme
        providers = (
            SAEKeys(kme, kme.master_sae_id, kme.slave_sae_id),
            SAEKeys(kme, kme.slave_sae_id, kme.master_sae_id),
        )
        super().__init__(mode=mode, key_providers=providers, **options)

    def top_up(self, handshakes: int) -> None:
        """Fill Q's pool for this many handshakes now, so no timed handshake waits for the
        simulated link (its cost is what `dthq qkd` measures)."""
        self.key_manager.refill(handshakes * 32)

    @property
    def params(self) -> dict[str, Any]:
        return {**super().params, "qkd": "simulated"}
