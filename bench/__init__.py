"""The benchmark suites (pytest-benchmark over the scenario matrix), their ingestion into
the results model (``ingest``), and the runner that runs them (``runner``)."""
