"""The traffic model's PyTorch network; imported only when the model fits or predicts.

Each message-passing round sends, along every edge, an MLP of the source car's state and
the edge (gap, pace difference); a car averages what it receives and mixes it with its
own state. A linear head gives two pass logits and a softplus traffic loss (s).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from cognirace.models.traffic_graph import TrafficGraph

FloatArray = npt.NDArray[np.float64]
Labels = tuple[FloatArray, FloatArray, FloatArray]
"""Pass ahead (0/1), passed (0/1) and traffic loss (s), one value per node; NaN on a
node without labels (a car in the field whose next lap is not raced on track), which
passes messages but adds nothing to the loss."""
EDGE_FEATURES = 2
EDGE_SCALE = np.array([3.0, 2.0])
"""Edge features are divided by these (gap in s, pace difference in s) to be of order 1."""
CHECK_EVERY = 5
"""Epochs between validation checks of early stopping (each check is a forward pass)."""
HUBER_DELTA_S = 1.0
"""The traffic loss is fitted with a Huber loss: squared below this, s, linear above."""


class _Layer(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.from_node = nn.Linear(hidden, hidden)
        self.from_edge = nn.Linear(EDGE_FEATURES, hidden, bias=False)
        self.update = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU())

    def forward(self, h: Tensor, src: Tensor, dst: Tensor, edges: Tensor) -> Tensor:
        # ReLU(W [h_src, e]) with W split, so the node part is computed per car, not per edge
        msg = torch.relu(self.from_node(h)[src] + self.from_edge(edges))
        total = torch.zeros_like(h).index_add_(0, dst, msg)
        count = torch.zeros(h.shape[0], 1).index_add_(0, dst, torch.ones(len(dst), 1))
        new: Tensor = self.update(torch.cat([h, total / count.clamp(min=1.0)], dim=1))
        return new


class TrafficNet(nn.Module):
    """Encoder, ``n_layers`` message-passing rounds with a skip, and a 3-output head."""

    def __init__(self, n_features: int, hidden: int, n_layers: int) -> None:
        super().__init__()
        self.encode = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU())
        self.layers = nn.ModuleList([_Layer(hidden) for _ in range(n_layers)])
        self.head = nn.Linear(2 * hidden, 3)

    def forward(self, x: Tensor, src: Tensor, dst: Tensor, edges: Tensor) -> Tensor:
        h0 = self.encode(x)
        h = h0
        for layer in self.layers:
            h = layer(h, src, dst, edges)
        out: Tensor = self.head(torch.cat([h0, h], dim=1))
        return out


def new_net(n_features: int, hidden: int, n_layers: int) -> TrafficNet:
    """A network with room for its weights but none drawn: they come from the fit's own
    seeded generator (``train_net``) or from the stored model, and building it this way
    takes nothing from PyTorch's global generator, which other fits may be using."""
    with torch.device("meta"):
        net = TrafficNet(n_features, hidden, n_layers)
    return net.to_empty(device="cpu")


def _tensors(graph: TrafficGraph) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return (torch.tensor(graph.nodes, dtype=torch.float32),
            torch.tensor(graph.src, dtype=torch.int64),
            torch.tensor(graph.dst, dtype=torch.int64),
            torch.tensor(graph.edges / EDGE_SCALE, dtype=torch.float32))


_SINGLE = threading.Lock()
_single_users = 0
_threads_before = 0


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run with one PyTorch thread (the machine is shared, and fits run side by side in
    threads), then restore the setting once the last fit inside it leaves.

    Every entering thread sets it for itself: PyTorch keeps the count per thread (as
    OpenMP does) once a thread has used it, so a pool thread that ran an earlier fit
    would otherwise run this one on every core, and the same seed would fit different
    weights depending on which thread took it.
    """
    global _single_users, _threads_before
    with _SINGLE:
        if _single_users == 0:
            _threads_before = torch.get_num_threads()
        torch.set_num_threads(1)
        _single_users += 1
    try:
        yield
    finally:
        with _SINGLE:
            _single_users -= 1
            if _single_users == 0:
                torch.set_num_threads(_threads_before)


def _initialise(net: nn.Module, seed: int) -> None:
    """Every linear layer's default initialisation, drawn from a generator of its own, so
    fits running side by side in threads do not share PyTorch's global random state."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                if module.bias is not None:
                    bound = 1.0 / math.sqrt(module.weight.shape[1])
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)


def _loss(out: Tensor, y: Tensor) -> Tensor:
    """Two pass log losses plus a Huber loss on the traffic loss (s), over the labelled
    nodes only (``y``'s fourth column, see ``_labels``)."""
    keep = y[:, 3] > 0
    out, y = out[keep], y[keep]
    bce = nn.functional.binary_cross_entropy_with_logits
    traffic = nn.functional.huber_loss(nn.functional.softplus(out[:, 2]), y[:, 2],
                                       delta=HUBER_DELTA_S)
    return bce(out[:, 0], y[:, 0]) + bce(out[:, 1], y[:, 1]) + traffic


def _labels(labels: Labels) -> Tensor:
    """The three labels (0 where unknown) and a fourth column: 1 on labelled nodes."""
    y = np.column_stack(labels)
    known = np.isfinite(y).all(axis=1)
    return torch.tensor(np.column_stack([np.where(np.isfinite(y), y, 0.0), known]),
                        dtype=torch.float32)


def train_net(net: TrafficNet, graph: TrafficGraph, labels: Labels, *, seed: int,
              epochs: int, learning_rate: float, weight_decay: float,
              validation: tuple[TrafficGraph, Labels] | None = None) -> int:
    """Fit ``net`` full-batch on all graphs of ``graph``.

    With ``validation`` (graphs of races left out of ``graph``), the weights of the epoch
    with the lowest validation loss are kept: early stopping, so a small season does not
    overfit. Returns the number of epochs kept.
    """
    with _one_thread():
        _initialise(net, seed)  # re-initialise under the seed, whatever came before
        inputs, y = _tensors(graph), _labels(labels)
        held = (_tensors(validation[0]), _labels(validation[1])) if validation else None
        optimiser = torch.optim.AdamW(net.parameters(), lr=learning_rate,
                                      weight_decay=weight_decay)
        best, best_epoch = float("inf"), epochs
        best_state = {k: v.clone() for k, v in net.state_dict().items()}
        for epoch in range(1, epochs + 1):
            net.train()
            optimiser.zero_grad()
            _loss(net(*inputs), y).backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            if held is not None and (epoch % CHECK_EVERY == 0 or epoch == epochs):
                net.eval()
                with torch.no_grad():
                    value = float(_loss(net(*held[0]), held[1]))
                if value < best:
                    best, best_epoch = value, epoch
                    best_state = {k: v.clone() for k, v in net.state_dict().items()}
        if held is not None:
            net.load_state_dict(best_state)
        net.eval()
    return best_epoch


def run_net(net: TrafficNet, graph: TrafficGraph) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Pass probabilities and traffic loss (s) for every node, in node order."""
    with _one_thread(), torch.no_grad():
        out = net(*_tensors(graph))
        p = torch.sigmoid(out[:, :2]).double().numpy()
        loss_s = nn.functional.softplus(out[:, 2]).double().numpy()
    return p[:, 0], p[:, 1], loss_s
