"""Verdicts as values: the outcomes, the paper's claims and the performance targets as
tables of specs, each judged once where its spec says."""
