"""The ``dthq`` command line: the project's composition root, one module per command group.

``main`` holds the group and the one error handler; ``options`` the options several
commands share; ``render`` the JSON, tables and key/value blocks; ``exit_codes`` the
table of exit codes. ``baselines``, ``bench`` and ``reports`` are imported inside the
commands that need them, so ``dthq backends`` stays fast and light.
"""
