"""The ``dthq`` group and its one error handler: an error a user can cause prints one
``error: ...`` line naming the file, port or URL, and exits by its class (``ExitCode``)."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
import urllib.error
from collections.abc import Callable
from typing import Any, NoReturn

import click

from dthq.cli import (
    benchmarks,
    chaos,
    cluster,
    fleet,
    gate,
    protocol,
    qkd,
    simulate,
    store,
    twin,
)
from dthq.cli.exit_codes import ExitCode
from dthq.errors import DTHQError, RunAborted

# The optional packages a command may need, by top-level module, with the extra that
# installs them. Any other missing module is a bug (a typo'd import): a traceback.
EXTRAS = {
    "fastapi": "kme] or [dashboard",
    "starlette": "kme] or [dashboard",
    "uvicorn": "kme] or [dashboard",
    "locust": "fleet",
    "gevent": "fleet",
    "matplotlib": "bench",
    "pytest": "bench",
    "pytest_benchmark": "bench",
    "py_arkworks_bls12381": "bench",
    "oqs": "liboqs",
    "scipy": "bench",  # the regression gate's statistics
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """What to install for a missing optional package; None if it is no optional one."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    return None if extra is None else f"this needs {top}: pip install 'dthq-bench[{extra}]'"


def _fail(message: str, code: ExitCode) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _os_error(exc: OSError) -> str:
    """The file, port or URL an OS error concerns, then what went wrong."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"{exc.url}: HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{exc.filename or 'URL'}: {exc.reason}"
    what = exc.strerror or str(exc) or type(exc).__name__
    return f"{exc.filename}: {what}" if exc.filename else what


def _interrupted(signum: int, frame: object) -> None:
    """The first Ctrl-C aborts the command; later ones are ignored, so they cannot cut
    short its unwinding (threads stopped and joined, then the store closed)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _unraisable(previous: Callable[[Any], object]) -> Callable[[Any], object]:
    """Python swallows an exception raised in a finalizer (a ``__del__``, a weakref
    callback); a Ctrl-C that lands there would be lost, with later ones ignored. Ours is
    signalled again, shortly, from another thread: the handler must not run inside this
    hook (``signal.raise_signal`` would run it at once), where it is swallowed too."""

    def hook(unraisable: Any) -> None:
        if unraisable.exc_type is KeyboardInterrupt and (
            signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        ):
            signal.signal(signal.SIGINT, _interrupted)
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
            return
        previous(unraisable)

    return hook


class _Group(click.Group):
    """Errors a user can cause print one line and exit by their class, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise click.Abort from None  # click's own handling would print a blank line first

    def main(self, args: Any = None, prog_name: str | None = None, **kwargs: Any) -> Any:
        ours = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        previous = sys.unraisablehook
        if ours:
            signal.signal(signal.SIGINT, _interrupted)
            sys.unraisablehook = _unraisable(previous)
        try:
            self._main(args, prog_name, **kwargs)
        finally:  # after a Ctrl-C, others stay ignored until the process has exited
            if ours and signal.getsignal(signal.SIGINT) is _interrupted:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            if ours:
                sys.unraisablehook = previous

    def _main(self, args: Any, prog_name: str | None, **kwargs: Any) -> NoReturn:
        try:
            result = super().main(args, prog_name, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(ExitCode.OK)
        except click.ClickException as exc:
            _fail(exc.format_message(), ExitCode.USAGE)
        except click.Abort:
            _fail("aborted", ExitCode.ABORTED)
        except RunAborted as exc:
            _fail(str(exc), ExitCode.ABORTED)
        except DTHQError as exc:
            _fail(str(exc), ExitCode.USAGE)
        except ModuleNotFoundError as exc:
            if (hint := missing_extra(exc)) is None:
                raise  # not an optional package: a bug, shown as one
            _fail(hint, ExitCode.USAGE)
        except OSError as exc:
            _fail(_os_error(exc), ExitCode.USAGE)
        except sqlite3.Error as exc:
            _fail(f"SQLite: {exc}", ExitCode.USAGE)
        sys.exit(result if isinstance(result, int) else ExitCode.OK)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dthq-bench", prog_name="dthq")
def main() -> None:
    """DTHQ bench: run, benchmark and check the DTHQ protocol beside its baselines.

    \b
    Examples:
      dthq handshake --kem ML-KEM-768 --auth psk --key-length 256 --json
      dthq bench --profile quick --out reports/latest
      dthq compare reports/baseline/results.json reports/latest/results.json
      dthq qkd --qber 0.03 --key-bits 256
      dthq kme serve --port 8443
      dthq simulate --patients 20 --rate 2 --duration 30
      dthq fleet --devices 200 --workers 2 --out reports/fleet/run
      dthq twin show P00001 --store twin.db --key-file twin.key
      dthq twin serve --patients 12
      dthq chaos --broker mosquitto --duration 60
      dthq cluster up --nodes 3
      dthq schemes
      dthq backends
    """


for _module in (protocol, benchmarks, gate, qkd, store, simulate, fleet, twin, chaos, cluster):
    for _command in _module.COMMANDS:
        main.add_command(_command)
