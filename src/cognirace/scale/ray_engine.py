"""Ray as an engine: one Ray task per piece, or Ray actors that keep costly state.

Retries: each piece is a task with ``max_retries``; when the process running it dies
(killed, out of memory, a node lost), Ray runs it again on another worker, and an
actor that dies is restarted and its piece run again. An exception raised by the piece
itself is retried only when it may pass (``OSError``: storage or network); a
``CogniraceError`` is about the data or the settings, so it reaches the driver at once,
as it would locally. Pieces must therefore be safe to run twice: each writes its output
under a name of its own and moves it into place atomically (the season's races, the
ingest's staged races, a registry version written manifest last).

The driver keeps at most ``2 x CPUs`` pieces in flight and takes each result as it
finishes, so its memory stays flat in the number of pieces; results are small.

Ray is imported here only: ``pip install -e '.[ray]'`` brings it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import ModuleType, TracebackType
from typing import Any, Self, TypeVar

from cognirace.errors import CogniraceError, ConfigError

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

INSTALL_HINT = ("install the ray extra: pip install -e '.[ray]' in a checkout, or "
                "pip install 'cognirace[ray]'; or run with --engine local")
MAX_RETRIES = 3
"""Times Ray runs a piece again after its worker died (and restarts a dead actor)."""
RETRIED = (OSError,)
"""Exceptions of a piece that Ray retries: storage and network hiccups."""
CANCEL_WAIT_S = 60.0
"""How long a failed map waits for its cancelled pieces' workers to end, s."""
TASK_ENV = {"POLARS_MAX_THREADS": "1"}
"""Environment of the workers that run pieces. Ray gives a piece one CPU and runs one
piece per CPU, so a piece whose Polars spreads over every core only contends with its
neighbours (Ray already holds OpenMP, and so LightGBM, to the piece's CPUs)."""
_RUNTIME_ENV = {"env_vars": TASK_ENV}
"""The runtime environment of the engine's tasks and actors alike."""


def require_ray() -> ModuleType:
    """The ``ray`` module, or a ``ConfigError`` that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--engine ray needs Ray, which is not installed",
                          hint=INSTALL_HINT) from exc
    return ray


def _run(fn: Callable[[T], R], item: T) -> R:
    return fn(item)


class _Holder:
    """A Ray actor's body: builds the state once, then runs pieces with it."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.state = factory()

    def run(self, fn: Callable[[Any, Any], Any], item: Any) -> Any:
        return fn(self.state, item)


class RayEngine:
    """Pieces as Ray tasks on a local Ray or a cluster (see the module docstring).

    Args:
        address: The cluster to join (``auto``, ``ray://head:10001``); None starts a
            local Ray (or joins the one ``RAY_ADDRESS`` names, as Ray does).
        num_cpus: CPUs of a local Ray started here; default every core.
        max_retries: See ``MAX_RETRIES``.
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, num_cpus: int | None = None,
                 max_retries: int = MAX_RETRIES) -> None:
        self._ray = require_ray()
        self._max_retries = max_retries
        self._owned = not self._ray.is_initialized()
        if self._owned:
            try:
                self._ray.init(address=address, num_cpus=None if address else num_cpus,
                               include_dashboard=False, log_to_driver=False)
            except ConnectionError as exc:
                raise ConfigError(
                    "cannot join the Ray cluster", value=address or "RAY_ADDRESS",
                    hint="check that it is up (`ray status` on its head) and the address "
                         "(the head's GCS port; `auto` on a machine of the cluster); where "
                         "the cluster uses Ray's token authentication (RAY_AUTH_MODE=token), "
                         "set RAY_AUTH_MODE and RAY_AUTH_TOKEN here as on the cluster"
                ) from exc
        self._task = self._ray.remote(_run).options(
            max_retries=max_retries, retry_exceptions=list(RETRIED),
            runtime_env=_RUNTIME_ENV)

    @property
    def cpus(self) -> int:
        """CPUs of the cluster (at least 1)."""
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def _get(self, ref: Any) -> Any:
        """A finished piece's result; our own errors come back as themselves."""
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, CogniraceError):
                raise cause from None
            raise

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """``(index, fn(item))`` as each Ray task finishes."""
        window = 2 * self.cpus
        pending: dict[Any, int] = {}
        queue = iter(enumerate(items))
        fn_ref = self._ray.put(fn)
        try:
            while True:
                for index, item in queue:
                    pending[self._task.remote(fn_ref, item)] = index
                    if len(pending) >= window:
                        break
                if not pending:
                    return
                (ref,), _ = self._ray.wait(list(pending), num_returns=1)
                yield pending.pop(ref), self._get(ref)
        finally:
            self._cancel(pending)

    def _cancel(self, refs: Iterable[Any]) -> None:
        """Stop what still runs after a failure (or when the caller stops early), and wait
        until it has stopped: the caller may then remove the folder those pieces wrote in.
        """
        refs = list(refs)
        for ref in refs:
            with contextlib.suppress(Exception):  # finished meanwhile, or already gone
                self._ray.cancel(ref, force=True)
        if refs:
            self._ray.wait(refs, num_returns=len(refs), timeout=CANCEL_WAIT_S)

    def map_with(self, factory: Callable[[], S], fn: Callable[[S, T], R],
                 items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """As ``map``, each piece on one of ``cpus`` actors that ran ``factory`` once."""
        if not items:
            return
        holder = self._ray.remote(num_cpus=1, max_restarts=self._max_retries,
                                  max_task_retries=self._max_retries,
                                  runtime_env=_RUNTIME_ENV)(_Holder)
        actors = [holder.remote(factory) for _ in range(min(self.cpus, len(items)))]
        idle = list(actors)
        pending: dict[Any, tuple[int, Any]] = {}
        queue = iter(enumerate(items))
        try:
            while True:
                for index, item in queue:
                    actor = idle.pop()
                    pending[actor.run.remote(fn, item)] = (index, actor)
                    if not idle:
                        break
                if not pending:
                    return
                (ref,), _ = self._ray.wait(list(pending), num_returns=1)
                index, actor = pending.pop(ref)
                idle.append(actor)
                yield index, self._get(ref)
        finally:
            for actor in actors:
                self._ray.kill(actor)

    def close(self) -> None:
        """Stop the local Ray this engine started; a joined cluster is left running."""
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


__all__ = ["INSTALL_HINT", "MAX_RETRIES", "RETRIED", "TASK_ENV", "RayEngine", "require_ray"]
