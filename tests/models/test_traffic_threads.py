"""A traffic fit runs PyTorch on one thread, whichever of the trainer's threads takes it:
the same seed then fits the same weights in every run."""

from __future__ import annotations

import threading

import torch

from cognirace.models.traffic_net import _one_thread


def test_a_thread_that_ran_an_earlier_fit_runs_the_next_beside_another_on_one_thread(
) -> None:
    before = torch.get_num_threads()
    holding, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def other_fit() -> None:
        with _one_thread():
            holding.set()
            release.wait(timeout=30)

    def pool_thread() -> None:
        torch.set_num_threads(2)  # a thread that has used PyTorch on two cores
        with _one_thread():  # an earlier fit, alone: it restores two threads on leaving
            pass
        other = threading.Thread(target=other_fit)
        other.start()
        holding.wait(timeout=30)
        with _one_thread():  # the next fit, entered while the other one runs
            seen.append(torch.get_num_threads())
        release.set()
        other.join()

    worker = threading.Thread(target=pool_thread)
    worker.start()
    worker.join()
    torch.set_num_threads(before)
    assert seen == [1]
