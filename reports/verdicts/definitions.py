"""How each figure of the report is defined, for the paper comparison's readers."""

DEFINITIONS = """\
## Definitions used

- **Handshake (ms)**: one complete, mutually authenticated key establishment, both parties'
  computation, in-process (memory BIOs for TLS 1.3). Provisioning (PSK, long-term RSA,
  ML-DSA and certificate keys) is outside the timed region.
- **Latency (ms)** (paper §6.4): handshake + seal + in-memory transfer + open of one
  fixed-size reading (~100 B JSON). **Amortised**: handshake / M + one message, M in the
  metadata.
- **Throughput (msg/s)**: protected messages sealed and opened per second after
  establishment, one core, one session.
- **Comp. overhead (ms)**: key establishment + AEAD only: the latency loop with
  compression off.
- **AL (ms)**: compress + encrypt + transfer (in memory) + decrypt + decompress.
- **CC (ms)**: the measured counterpart of Eq. 9 (2T_ECC + 3T_H + T_E + T_D): one DTHQ
  handshake plus AEAD seal and open of the compressed payload, no compression.
- **Comm (bits)**: bits of the record transmitted after compression (header and tag
  included).
- **Modelled link (ms)**: bytes / bandwidth + RTT, inflated for loss, for Wi-Fi 802.11n
  (far) and wired (near) links. MODELLED, never added to measured time.
- **System level** (the schemes suite): readings through the deployed pipeline (devices,
  Mosquitto, gateway, twin), each scheme at the same load through the same broker in one
  run. End to end is a reading's acquisition to its store; the held rate is the highest
  offered rate delivered in full. MQTT over TLS 1.3 negotiates X25519 (the system OpenSSL
  has no ML-KEM); the hybrid group's extra handshake cost is a MODELLED adjustment.
- Absolute times are properties of this machine: the paper's (i7-9700K) are not
  comparable across machines, and claims are judged on orderings and ratios measured side
  by side in one run. The verdicts judge latency amortised, as §6.4 defines it."""
