"""The DTHQ protocol, sans-I/O: wire format, suites, key schedule, key-establishment
modes, the handshake state machines, the record layer and its codecs."""
