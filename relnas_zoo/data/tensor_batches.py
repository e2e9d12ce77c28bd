"""Whole-split batching and augmentation on tensors, on whatever device the split lives on.

A CIFAR search split (25K images, 77 MB as uint8) fits in GPU memory, so the search keeps it there and
augments batches on the device: random crop with zero padding, horizontal flip, cutout, normalisation.
The same code runs on the CPU, where it also beats per-image PIL transforms. All randomness comes from
the ``torch.Generator`` passed in, so an epoch is a pure function of its seed.
"""
from __future__ import annotations

from typing import Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ['TensorBatches']


class TensorBatches:
    def __init__(
            self,
            images: np.ndarray,
            labels: np.ndarray,
            mean: Sequence[float],
            std: Sequence[float],
            batch_size: int,
            device: torch.device = torch.device('cpu'),
            augment: bool = False,
            pad: int = 4,
            cutout: int = 0,
            channels_last: bool = False,
    ):
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f'images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}')
        self.device = torch.device(device)
        self.images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous().to(self.device)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(self.device)
        self.mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std, device=self.device).view(1, 3, 1, 1) * 255
        self.batch_size = batch_size
        self.augment = augment
        self.pad = pad
        self.cutout = cutout
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __len__(self) -> int:
        return (len(self.labels) + self.batch_size - 1) // self.batch_size

    @property
    def num_samples(self) -> int:
        return len(self.labels)

    def _draw_epoch(self, generator: Optional[torch.Generator], n: int) -> torch.Tensor:
        """Every sample's crop offsets, flip and cutout centre for one epoch: (n, 5) on the device.

        Drawn at once and moved in one copy: a blocking copy per batch from a CPU generator would make
        the host wait for the GPU at every step (and a CPU generator drives a CUDA split too).
        """
        h, w = self.images.shape[-2:]
        dev = generator.device if generator is not None else torch.device('cpu')
        span = 2 * self.pad + 1
        draws = torch.stack([
            torch.randint(span, (n,), generator=generator, device=dev),       # crop row offset
            torch.randint(span, (n,), generator=generator, device=dev),       # crop column offset
            (torch.rand(n, generator=generator, device=dev) < 0.5).long(),    # horizontal flip
            torch.randint(h, (n,), generator=generator, device=dev),          # cutout centre row
            torch.randint(w, (n,), generator=generator, device=dev),          # cutout centre column
        ], dim=1)
        return draws.to(self.device)

    def _crop_flip(self, x: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        """Random crop of the zero-padded image and a horizontal flip (on raw pixel values)."""
        b, _, h, w = x.shape
        if self.pad:
            x = F.pad(x, (self.pad,) * 4)
            rows = (draws[:, 0, None] + torch.arange(h, device=self.device))[:, None, :, None]
            cols = (draws[:, 1, None] + torch.arange(w, device=self.device))[:, None, None, :]
            x = x[torch.arange(b, device=self.device)[:, None, None, None],
                  torch.arange(3, device=self.device)[None, :, None, None], rows, cols]
        flip = draws[:, 2].bool()
        return torch.where(flip[:, None, None, None], x.flip(3), x)

    def _cutout(self, x: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        """Zero a ``cutout`` x ``cutout`` square (clipped at the border) around a random centre."""
        _, _, h, w = x.shape
        half = self.cutout // 2
        cy = draws[:, 3, None, None]
        cx = draws[:, 4, None, None]
        yy = torch.arange(h, device=self.device)[None, :, None]
        xx = torch.arange(w, device=self.device)[None, None, :]
        hole = (yy >= cy - half) & (yy < cy + half) & (xx >= cx - half) & (xx < cx + half)
        return x.masked_fill(hole[:, None], 0.)

    def shard_size(self, world: int = 1, shuffle: bool = True) -> int:
        """Samples one of ``world`` processes sees per epoch (see :meth:`epoch`)."""
        n = self.num_samples
        return n // world if shuffle else len(range(0, n, world))

    def epoch(self, generator: Optional[torch.Generator] = None, shuffle: bool = True, rank: int = 0,
              world: int = 1, order_generator: Optional[torch.Generator] = None
              ) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """Batches of (normalised float images, labels) covering the split once.

        With ``world`` > 1 each rank takes every ``world``-th sample: a shuffled (training) epoch first
        drops the remainder so every rank runs the same number of steps; an ordered (evaluation) epoch
        keeps every sample exactly once, with no padding, so summed metrics are exact. Under several
        ranks pass an ``order_generator`` seeded alike on all of them (augmentation stays per rank).
        """
        n = self.num_samples
        if shuffle:
            og = order_generator or generator
            order = torch.randperm(n, generator=og, device=og.device if og else 'cpu')
            order = order[:n - n % world].to(self.device)
        else:
            order = torch.arange(n, device=self.device)
        if world > 1:
            order = order[rank::world]
        n = len(order)
        draws = self._draw_epoch(generator, n) if self.augment else None
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            x = self.images[idx].float()
            if self.augment:
                x = self._crop_flip(x, draws[start:start + self.batch_size])
            x = (x - self.mean) / self.std
            if self.augment and self.cutout:  # after normalising, as in the authors' (DARTS) pipeline
                x = self._cutout(x, draws[start:start + self.batch_size])
            yield x.contiguous(memory_format=self.memory_format), self.labels[idx]
