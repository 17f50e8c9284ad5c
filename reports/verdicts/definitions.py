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
- Absolute times are properties of this machine: the paper's (i7-9700K) are not
  comparable across machines, and claims are judged on orderings and ratios measured side
  by side in one run. The verdicts judge latency amortised, as §6.4 defines it."""
