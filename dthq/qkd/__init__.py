"""SIMULATED quantum key distribution: a BB84 link, Cascade error correction, privacy
amplification and the authenticated classical channel they run over. Nothing here
touches a photon: every figure it produces is labelled simulated."""
