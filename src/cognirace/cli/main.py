"""Entry point of the ``cognirace`` command.

Each sub-command lives in its own module and is registered here, when this module is
imported, so ``app`` is the whole command line. At module level, command modules import
only the standard library, Typer and the parts of Rich that Typer's help loads anyway
(``rich.console``, ``rich.table``); everything else (polars, pydantic, the lake, models,
FastAPI, progress bars) is imported inside the function that uses it. So ``cognirace
--help`` and ``cognirace <command> --help`` stay fast, and a command loads only what it
runs: ``cognirace ingest`` never imports torch or FastAPI. ``tests/cli/test_imports.py``
keeps that promise.

Errors of the ``CogniraceError`` tree are printed as one red line with their hint;
``--debug`` (or ``COGNIRACE_DEBUG=1``) shows the full traceback instead.
"""

from __future__ import annotations

import sys

import typer

from cognirace import __version__
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
    # this also runs before a sub-command's --help: the settings are read on an error only
    _state["debug"] = debug


def debug_enabled() -> bool:
    """``--debug`` or ``COGNIRACE_DEBUG`` (the settings, and so pydantic, load only here)."""
    from cognirace.config import get_settings

    return _state["debug"] or get_settings().debug


def _register() -> None:
    """Attach every sub-command to ``app``, once; calling it again does nothing."""
    from cognirace.cli import commands

    if not app.registered_commands:
        commands.register(app)


_register()


def _print_error(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(message, highlight=False)


def main() -> None:
    """Run the command line, turning CogniRace errors into a short message and exit code 2."""
    try:
        app(standalone_mode=False)
    except CogniraceError as exc:
        if debug_enabled():
            raise
        from rich.markup import escape

        # escaped: a message may hold brackets (a path, "pip install -e '.[ray]'")
        _print_error(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(2)
    except typer.Abort:
        _print_error("aborted")
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
