"""Verdicts as values: the outcomes, the claim register (every claim of the paper once,
its contradictions, our own comparisons apart) and the performance targets as tables of
specs, each judged once where its spec says."""
