"""``python -m dthq.cli``: the ``dthq`` command."""

from dthq.cli.main import main

main()
