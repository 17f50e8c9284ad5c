"""Options several commands share, declared once. Their choices are read from the
registries that own them (gateway policies, Cascade schedules, buses, fleet brokers and
scenarios)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from dthq.fleet.config import BROKERS, SCENARIOS
from dthq.pipeline.gateway import POLICIES
from dthq.qkd.cascade import SCHEDULES
from dthq.transport.bus import BUSES

F = TypeVar("F", bound=Callable[..., Any])


class CommaList(click.ParamType):
    """Comma-separated values, each checked by ``item`` (a range, a choice): a tuple.
    Its metavar shows one item's form (``[wearable|bedside],...``, ``N,...``)."""

    name = "list"

    def __init__(self, item: click.ParamType, metavar: str | None = None) -> None:
        self.item, self.metavar = item, metavar

    def get_metavar(self, param: click.Parameter, *args: Any, **kwargs: Any) -> str:
        one = (
            self.metavar or self.item.get_metavar(param, *args, **kwargs) or self.item.name.upper()
        )
        return f"{one},..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        items = [v.strip() for v in str(value).split(",")]
        if not all(items):
            self.fail(f"{value!r}: an empty item in the comma-separated list", param, ctx)
        return tuple(self.item.convert(v, param, ctx) for v in items)


def json_flag(help: str = "Print one JSON object.") -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help)


def out_dir(default: Path | None, help: str, *, required: bool = False) -> Callable[[F], F]:
    return click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=default,
        required=required,
        show_default=default is not None,
        help=help,
    )


def _broker_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from dthq.transport.cluster_layout import broker_url

    return None if value is None else broker_url(value)


def broker(help: str, *, required: bool = False) -> Callable[[F], F]:
    """``--broker URL``, or ``cluster`` / ``cluster:DIR`` for ``dthq cluster up``'s."""
    return click.option(
        "--broker",
        default=None,
        required=required,
        metavar="URL",
        callback=_broker_url,
        help=f"{help} 'cluster' or 'cluster:DIR': the nodes of `dthq cluster up`.",
    )


def seed(default: int | None, help: str) -> Callable[[F], F]:
    return click.option(
        "--seed", type=int, default=default, show_default=default is not None, help=help
    )


def rate(help: str) -> Callable[[F], F]:
    return click.option(
        "--rate",
        "rate_hz",
        type=click.FloatRange(0, 100, min_open=True),
        default=1.0,
        show_default=True,
        help=help,
    )


def duration(default: float, help: str) -> Callable[[F], F]:
    return click.option(
        "--duration",
        "duration_s",
        type=click.FloatRange(0, 86_400, min_open=True),
        default=default,
        show_default=True,
        help=help,
    )


def key_file(help: str, *, exists: bool = True, required: bool = True) -> Callable[[F], F]:
    return click.option(
        "--key-file",
        type=click.Path(exists=exists, dir_okay=False, path_type=Path),
        default=None,
        required=required,
        help=help,
    )


KEY_FILE_HELP = "The master secret (at least 32 bytes, mode 0600, kept apart from the store)."


def store(help: str, *, required: bool = True) -> Callable[[F], F]:
    return click.option(
        "--store",
        "store_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        required=required,
        help=help,
    )


def transport(help: str) -> Callable[[F], F]:
    return click.option(
        "--transport",
        type=click.Choice(BUSES),
        default="mqtt",
        show_default=True,
        help=help,
    )


def policy(default: str, help: str) -> Callable[[F], F]:
    return click.option(
        "--policy", type=click.Choice(list(POLICIES)), default=default, show_default=True, help=help
    )


def schedule() -> Callable[[F], F]:
    return click.option(
        "--schedule",
        type=click.Choice(SCHEDULES),
        default="optimised",
        show_default=True,
        help="Cascade block-size schedule.",
    )


def check_broker(transport: str, broker: str | None) -> None:
    """--broker with a transport that has no broker would be ignored: refused."""
    if broker is not None and transport != "mqtt":
        raise click.UsageError(
            f"--broker needs --transport mqtt (--transport {transport} has none)"
        )


def broker_kind() -> Callable[[F], F]:
    return click.option(
        "--broker-kind",
        "embedded",
        type=click.Choice(BROKERS),
        default="amqtt",
        show_default=True,
        help="The broker to start when --broker is not given.",
    )


def pki(name: str, help: str) -> Callable[[F], F]:
    return click.option(
        "--pki",
        name,
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("kme-pki"),
        show_default=True,
        help=help,
    )


def shown(*names: str, type: Any = None, default: Any = None, help: str) -> Callable[[F], F]:
    """An option whose default (and range or choices) ``--help`` shows."""
    return click.option(*names, type=type, default=default, show_default=True, help=help)


def ranged(
    name: str, bounds: tuple[float, float], default: float, help: str, *, dest: str | None = None
) -> Callable[[F], F]:
    """A number in a closed range, of the default's type; ``--help`` shows both."""
    kind = click.IntRange if isinstance(default, int) else click.FloatRange
    names = (name, dest) if dest else (name,)
    return shown(*names, type=kind(*bounds), default=default, help=help)


def chosen(
    name: str, choices: Iterable[str], default: str, help: str, *, dest: str | None = None
) -> Callable[[F], F]:
    """One of ``choices``, its default and the choices shown by ``--help``."""
    names = (name, dest) if dest else (name,)
    return shown(*names, type=click.Choice(list(choices)), default=default, help=help)


def positive(
    name: str, high: float, default: float, help: str, *, dest: str | None = None
) -> Callable[[F], F]:
    """A number above 0 and at most ``high``."""
    names = (name, dest) if dest else (name,)
    kind = click.FloatRange(0, high, min_open=True)
    return shown(*names, type=kind, default=default, help=help)


def share(name: str, default: float, help: str) -> Callable[[F], F]:
    """A fraction, 0 to 1."""
    return shown(name, type=click.FloatRange(0, 1), default=default, help=help)


def patients(default: int, most: int) -> Callable[[F], F]:
    return shown(
        "--patients",
        type=click.IntRange(1, most),
        default=default,
        help="Simulated patients, one device each.",
    )


def listen(default_port: int, help_port: str) -> Callable[[F], F]:
    """--host and --port of a server."""

    def both(f: F) -> F:
        f = shown("--port", type=click.IntRange(0, 65535), default=default_port, help=help_port)(f)
        return click.option(
            "--host",
            default="127.0.0.1",
            show_default=True,
            metavar="ADDRESS",
            help="Address to listen on.",
        )(f)

    return both


def fhir_dir() -> Callable[[F], F]:
    return click.option(
        "--fhir-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Write each batch's FHIR R4B transaction Bundle here.",
    )


def fhir_url() -> Callable[[F], F]:
    return click.option(
        "--fhir-url",
        default=None,
        metavar="URL",
        help="POST each Bundle to this FHIR base URL (through the store's outbox).",
    )


def scenario() -> Callable[[F], F]:
    return click.option(
        "--scenario",
        type=click.Choice(list(SCENARIOS)),
        default="steady",
        show_default=True,
        help="What the fleet goes through (see below).",
    )
