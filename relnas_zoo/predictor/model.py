"""The predictor networks (ReNAS's over the feature tensor; a small MLP over figures alone) and ReNAS's
pairwise ranking loss."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['ReNASNet', 'FiguresNet', 'pairwise_logistic_loss', 'pairwise_agreement']


class ReNASNet(nn.Module):
    """Two 3x3 conv-BN-ReLU layers (``c -> 2c -> 128``) over the feature tensor, then FC 120-84-1.

    ``extra_features`` training-free figures (parameters, mult-adds, synflow) join the first FC layer's
    output, so a handful of scalars is not drowned among the ``128 * N * N`` conv features.
    """

    def __init__(self, in_channels: int, grid: int, extra_features: int = 0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 2 * in_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(2 * in_channels)
        self.conv2 = nn.Conv2d(2 * in_channels, 128, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(128)
        self.fc1 = nn.Linear(128 * grid * grid, 120)
        self.fc2 = nn.Linear(120 + extra_features, 84)
        self.fc3 = nn.Linear(84, 1)
        self.extra_features = extra_features

    def forward(self, x: torch.Tensor, extra: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.fc1(x.flatten(1)))
        if self.extra_features:
            x = torch.cat([x, extra], dim=1)
        x = F.relu(self.fc2(x))
        return self.fc3(x).view(-1)


class FiguresNet(nn.Module):
    """Scores an architecture from its figures alone (the graph feature set, which has no tensor): two
    hidden layers with dropout, small enough to learn from a few dozen architectures."""

    def __init__(self, in_features: int, hidden: int = 64, dropout: float = 0.1):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout),
                                    nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, x: Optional[torch.Tensor], extra: torch.Tensor) -> torch.Tensor:
        return self.layers(extra).view(-1)  # ``x``: the empty tensor of the graph set, unused


def _pair_signs(targets: torch.Tensor) -> torch.Tensor:
    return torch.sign(targets[:, None] - targets[None, :])


def pairwise_logistic_loss(scores: torch.Tensor, targets: Optional[torch.Tensor] = None,
                           pairs: Optional[torch.Tensor] = None) -> torch.Tensor:
    """ReNAS's loss ``sum_{i != j} log(1 + exp(-(y_i - y_j) sign(t_i - t_j))) / (n (n - 1))``.

    With ``pairs`` (``[P, 2]`` indices, first better than second) instead of ``targets``, the mean of the
    same term over the given ordered pairs: the form a search log supplies (who beat whom).
    ``softplus(-x)`` is ``log(1 + exp(-x))`` without its overflow for large ``-x``.
    """
    if pairs is not None:
        return F.softplus(-(scores[pairs[:, 0]] - scores[pairs[:, 1]])).mean()
    n = scores.shape[0]
    if n < 2:
        return scores.sum() * 0.0
    terms = F.softplus(-(scores[:, None] - scores[None, :]) * _pair_signs(targets))
    return (terms.sum() - terms.diagonal().sum()) / (n * (n - 1))


@torch.no_grad()
def pairwise_agreement(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Kendall's tau-a of ``scores`` against ``targets`` (concordant minus discordant over all pairs)."""
    n = scores.shape[0]
    if n < 2:
        return 0.0
    return float((_pair_signs(scores) * _pair_signs(targets)).sum() / (n * (n - 1)))
