"""Entry point of the ``cognirace`` command.

Each sub-command lives in its own module and is registered here. Errors of the
``CogniraceError`` tree are printed as one red line with their hint; ``--debug`` (or
``COGNIRACE_DEBUG=1``) shows the full traceback instead.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from cognirace import __version__
from cognirace.config import get_settings
from cognirace.errors import CogniraceError

app = typer.Typer(
    name="cognirace",
    help="CogniRace: race strategy from race data (ingest, simulate, learn, serve, decide).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cognirace {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks instead of one-line errors."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """CogniRace: race strategy from race data."""
    _state["debug"] = debug or get_settings().debug


def _register() -> None:
    """Attach every sub-command; modules are imported here so ``--help`` lists them all."""
    from cognirace.cli import commands

    commands.register(app)


def main() -> None:
    """Run the command line, turning CogniRace errors into a short message and exit code 2."""
    _register()
    try:
        app(standalone_mode=False)
    except CogniraceError as exc:
        if _state["debug"]:
            raise
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except typer.Abort:
        Console(stderr=True).print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        # usage errors (bad option, missing path) carry their own message and exit code
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
