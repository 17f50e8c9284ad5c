"""``dthq fleet worker``: Locust workers on this machine joining a master elsewhere."""

from __future__ import annotations

import subprocess
import sys

from dthq.fleet.run import LOCUSTFILE, require_locust


def join_master(master_host: str, master_port: int, processes: int = 1) -> int:
    """Run Locust workers until their master ends the run; Locust's exit code. They take
    their options (the registry path, the broker, the rate) from the master."""
    require_locust()
    args = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
    args += ["--master-host", master_host, "--master-port", str(master_port)]
    if processes > 1:
        args += ["--processes", str(processes)]
    return subprocess.call(args)
