"""``cognirace serve``: the prediction service, in the foreground, under uvicorn.

The options become ``COGNIRACE_*`` variables before uvicorn starts, because each worker
process builds its own app from the environment (``app_from_env`` as a factory): that is
how ``--workers N`` gives N independent workers, each loading the models once. The
settings are checked here first, so a bad value or a public bind without API keys stops
the command with a one-line error instead of N failing workers.

With more than one worker, ``/metrics`` must add up every worker's counts, whichever
worker answers the scrape: prometheus_client does that from files in
``PROMETHEUS_MULTIPROC_DIR``, which this command points at a fresh folder (or empties,
when the operator set it) before the workers start.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

APP_FACTORY = "cognirace.api.app:app_from_env"
GRACEFUL_S = 8
"""Seconds in-flight requests get after SIGTERM (Cloud Run kills 10 s after it)."""


def epilog() -> str:
    """The end of ``serve --help``: every setting, its variable and default."""
    from cognirace.api.settings import describe_settings

    return ("Every setting is also read from the environment:\n\n" + describe_settings()
            + "\n\nMake an API key with `cognirace keys create --name NAME`.")


class ServeCommand(TyperCommand):
    """The ``serve`` command, whose help ends with :func:`epilog`.

    The epilog is read from the service's settings class when the help is shown, not
    when the command is registered: listing the commands then needs no pydantic.
    """

    def format_help(self, ctx: Any, formatter: Any) -> None:  # Click's types, private to Typer
        self.epilog = epilog()
        super().format_help(ctx, formatter)


def serve(
    host: str | None = typer.Option(
        None, "--host", help="Address to bind (default COGNIRACE_HOST or 127.0.0.1). A "
        "non-local address needs API keys."),
    port: int | None = typer.Option(
        None, "--port", help="TCP port (default AIP_HTTP_PORT, COGNIRACE_PORT or 8005)."),
    workers: int | None = typer.Option(
        None, "--workers", help="Worker processes, each with its own copy of the models "
        "(default COGNIRACE_WORKERS or 1)."),
    registry: str | None = typer.Option(
        None, "--registry", help="Model registry: folder or fsspec URL (default "
        "COGNIRACE_REGISTRY_URL or ./data/registry)."),
    reload: bool = typer.Option(
        False, "--reload", help="Restart on code changes (development only; one worker)."),
) -> None:
    """Serve the eight models over HTTP (FastAPI on uvicorn), in the foreground.

    Stops gracefully on SIGTERM or Ctrl-C: in-flight requests finish first.
    API docs at /docs, health at /health and /ready, metrics at /metrics.
    """
    import uvicorn

    from cognirace.api.auth import KeyStore
    from cognirace.api.logs import configure_logging
    from cognirace.api.settings import ServeSettings

    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers),
                        ("REGISTRY_URL", registry)):
        if value is not None:
            os.environ[f"COGNIRACE_{name}"] = str(value)
    if port is not None:
        os.environ.pop("AIP_HTTP_PORT", None)  # the command line wins over the platform
    settings = ServeSettings()
    settings.check_bind(len(KeyStore.load(settings.keys_file, settings.api_keys)))
    configure_logging(settings.log_level)
    n_workers = None if reload else settings.workers  # --reload runs one, its own way
    with _metrics_folder(n_workers or 1):
        uvicorn.run(APP_FACTORY, factory=True, host=settings.host, port=settings.port,
                    workers=n_workers, reload=reload,
                    loop="uvloop", http="httptools", log_config=None, access_log=False,
                    timeout_graceful_shutdown=GRACEFUL_S, server_header=False,
                    log_level=settings.log_level)


@contextmanager
def _metrics_folder(workers: int) -> Iterator[None]:
    """Shared metric files for several workers: a fresh folder, removed at the end."""
    from cognirace.api.metrics import MULTIPROC_ENV

    if workers <= 1:
        yield
        return
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        for stale in Path(given).glob("*.db"):  # counts of an earlier run's workers
            stale.unlink()
        yield
        return
    folder = tempfile.mkdtemp(prefix="cognirace-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["ServeCommand", "epilog", "serve"]
