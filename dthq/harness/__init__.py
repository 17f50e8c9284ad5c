"""What the benchmarks measure and what they produce: the scenario matrix, telemetry,
link models, machine metadata, the typed results model and the handshake probe."""
