"""The costliest pieces go out first, and every result keeps its index in the list."""

from __future__ import annotations

from cognirace.scale import LocalEngine, in_order, largest_first


def test_pieces_run_costliest_first_and_come_back_in_the_lists_order() -> None:
    sizes = [3, 9, 1, 9, 5]
    ran: list[int] = []

    def piece(size: int) -> int:
        ran.append(size)
        return size * 10

    pairs = list(largest_first(LocalEngine(), piece, sizes, float))
    assert ran == [9, 9, 5, 3, 1]
    assert [index for index, _ in pairs] == [1, 3, 4, 0, 2]  # ties keep the list's order
    assert in_order(iter(pairs)) == [30, 90, 10, 90, 50]


def test_an_empty_list_runs_nothing() -> None:
    assert list(largest_first(LocalEngine(), str, [], float)) == []
