"""The engine contract and the local engine.

An engine runs ``fn(item)`` for every item of a list and yields ``(index, result)``
pairs as the pieces finish, so a command can advance its progress bar per finished
piece; ``in_order`` puts them back in the list's order when the output must not
depend on which worker was quicker. ``map_with`` is the same for work that needs
something costly to build first (the production models of the backtest): ``factory``
runs once per worker and ``fn(state, item)`` once per item.

Functions and items must pickle (module-level functions, ``functools.partial`` of
them, dataclasses of plain values) since a distributed engine ships them to other
processes; results should be small (reports, summaries), the data itself written to
storage by the piece that made it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Protocol, Self, TypeVar

from cognirace.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

ENGINES = ("local", "ray")
"""Names accepted by ``open_engine`` (and the commands' ``--engine``)."""


class Engine(Protocol):
    """Runs independent pieces of work; see the module docstring."""

    name: str

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """``(index, fn(items[index]))`` for every item, as each finishes."""
        ...

    def map_with(self, factory: Callable[[], S], fn: Callable[[S, T], R],
                 items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """As ``map``, with ``fn(factory(), item)``; ``factory`` runs once per worker."""
        ...

    def close(self) -> None:
        """Release what the engine started (a local Ray); a no-op otherwise."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class LocalEngine:
    """Every piece in this process, one after the other, in the list's order."""

    name = "local"

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """``(index, fn(item))`` in order."""
        for index, item in enumerate(items):
            yield index, fn(item)

    def map_with(self, factory: Callable[[], S], fn: Callable[[S, T], R],
                 items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """``factory`` once, then ``fn(state, item)`` in order."""
        if not items:
            return
        state = factory()
        for index, item in enumerate(items):
            yield index, fn(state, item)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def in_order(pairs: Iterable[tuple[int, R]], on_done: Callable[[int, R], None] | None = None
             ) -> list[R]:
    """The results of ``Engine.map`` in the items' order.

    Args:
        pairs: ``(index, result)`` pairs in any order, each index once, from 0 up.
        on_done: Called with each pair as it arrives (a progress bar).
    """
    found: dict[int, R] = {}
    for index, result in pairs:
        found[index] = result
        if on_done is not None:
            on_done(index, result)
    return [found[i] for i in range(len(found))]


def largest_first(engine: Engine, fn: Callable[[T], R], items: Sequence[T],
                  cost: Callable[[T], float]) -> Iterator[tuple[int, R]]:
    """``engine.map`` with the costliest pieces handed out first; indices are the list's.

    On workers that take pieces as they free up, the last pieces decide when the map
    ends: a large race started last runs alone while the other workers idle. Starting
    the large ones first leaves the small ones to fill the end. What each piece writes
    does not depend on the order.
    """
    order = sorted(range(len(items)), key=lambda i: (-cost(items[i]), i))
    for position, result in engine.map(fn, [items[i] for i in order]):
        yield order[position], result


def open_engine(name: str = "local", *, address: str | None = None,
                num_cpus: int | None = None) -> Engine:
    """The engine called ``name``.

    Args:
        name: ``local`` or ``ray``.
        address: The Ray cluster to join (``auto``, ``ray://head:10001``, ``host:6379``);
            None starts a local Ray with ``num_cpus`` (default: every core). Ray only.
        num_cpus: CPUs of a local Ray started here; ignored when joining a cluster.

    Raises:
        ConfigError: an unknown engine, an address without Ray, or Ray not installed.
    """
    if name == "local":
        if address is not None:
            raise ConfigError("--ray-address is for --engine ray", value=address,
                              hint="add --engine ray, or drop --ray-address")
        return LocalEngine()
    if name == "ray":
        from cognirace.scale.ray_engine import RayEngine

        return RayEngine(address=address, num_cpus=num_cpus)
    raise ConfigError(f"unknown engine {name!r}", value=name,
                      hint=f"use one of {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "LocalEngine", "in_order", "largest_first", "open_engine"]
