"""Depthwise convolution with a faster backward on the CPU.

Every conv op of the search space is built around depthwise convolutions (3x3 and 5x5, plain and with
dilation 2). On the CPU, oneDNN's depthwise backward is fast only for the undilated 3x3 kernel; for the
others it is 8-20x slower than the forward (64x16x32x32, channels_last, 2 threads: the 5x5 weight
gradient 4.5 ms against 0.25 ms for 3x3, the input gradient of a dilated 3x3 4.0 ms against a 0.3 ms
forward), which made those kernels a quarter of a search candidate's training time. The backward here
is written with the calls that are fast:

- input gradient: for stride 1 and 'same' padding (``2 * padding == dilation * (k - 1)``, as all the
  ops use) it is the forward convolution of the output gradient with the kernel flipped in both axes;
- weight gradient: the dilation-2 case is an undilated one on the four pixel-parity grids stacked along
  the batch (each grid sees the kernel's taps at consecutive positions); a 5x5 kernel's weight gradient
  is assembled from four 3x3 ones over windows of the padded input (padding 0, which oneDNN's 3x3 path
  covers).

A stride-2 kernel with dilation 2 becomes an undilated stride-1 one on the input's even grid (see
``DepthwiseConv2d``). The results equal aten's up to the order of floating-point sums. The faster path
is taken only where it pays and is safe: CPU tensors, float32 without autocast, 'same' padding, stride 1
(or stride 2 with dilation 2), and not while scripting, tracing or compiling (those see a plain
``F.conv2d``). Elsewhere it is PyTorch's own convolution, and so is every forward (of the even grid, in
the stride-2 case). The faster backward is not itself differentiable (no double backward on that path).
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = ['DepthwiseConv2d', 'depthwise_weight_grad']


def _conv_weight_grad(x: torch.Tensor, grad: torch.Tensor, kernel: int, padding: int, dilation: int) -> torch.Tensor:
    """aten's weight gradient of a stride-1 depthwise convolution."""
    weight = x.new_empty(x.shape[1], 1, kernel, kernel)
    return torch.ops.aten.convolution_backward(
        grad, x, weight, None, [1, 1], [padding, padding], [dilation, dilation], False, [0, 0], x.shape[1],
        [False, True, False])[1]


def _parity_grids(t: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) with even H, W -> (4N, C, H/2, W/2): the four (row, column) parity grids along the
    batch, copied in the tensor's own memory format (a copy across it is several times slower)."""
    n, c, h, w = t.shape
    if t.is_contiguous(memory_format=torch.channels_last):
        grids = t.permute(0, 2, 3, 1).reshape(n, h // 2, 2, w // 2, 2, c).permute(2, 4, 0, 1, 3, 5)
        return grids.reshape(4 * n, h // 2, w // 2, c).permute(0, 3, 1, 2)
    grids = t.reshape(n, c, h // 2, 2, w // 2, 2).permute(3, 5, 0, 1, 2, 4)
    return grids.reshape(4 * n, c, h // 2, w // 2)


def _undilated_weight_grad(xp: torch.Tensor, grad: torch.Tensor, kernel: int) -> torch.Tensor:
    """Weight gradient of a stride-1, padding-0 depthwise ``kernel`` x ``kernel`` convolution of the
    (already padded) ``xp`` that produced an output with gradient ``grad``."""
    if kernel != 5:
        return _conv_weight_grad(xp, grad, kernel, 0, 1)
    h, w = grad.shape[-2:]
    out = xp.new_empty(xp.shape[1], 1, 5, 5)
    for top in (0, 2):  # four 3x3 blocks cover the 5x5 taps; the shared middle row/column is written twice
        for left in (0, 2):
            window = xp[:, :, top:top + h + 2, left:left + w + 2]
            out[:, :, top:top + 3, left:left + 3] = _conv_weight_grad(window, grad, 3, 0, 1)
    return out


def depthwise_weight_grad(x: torch.Tensor, grad: torch.Tensor, kernel: int, padding: int,
                          dilation: int) -> torch.Tensor:
    """Weight gradient (C, 1, k, k) of a stride-1 depthwise convolution with 'same' padding, built from
    oneDNN's fast undilated 3x3 path (see the module docstring)."""
    if kernel == 3 and dilation == 1:
        return _conv_weight_grad(x, grad, kernel, padding, dilation)
    xp = F.pad(x, (padding, padding, padding, padding))
    if dilation == 1:
        return _undilated_weight_grad(xp, grad, kernel)
    if dilation == 2 and xp.shape[-2] % 2 == 0 and xp.shape[-1] % 2 == 0:
        return _undilated_weight_grad(_parity_grids(xp), _parity_grids(grad), kernel)
    return _conv_weight_grad(x, grad, kernel, padding, dilation)


class _DepthwiseConvFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, padding: int, dilation: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        ctx.dilation = dilation
        return F.conv2d(x, weight, None, 1, padding, dilation, x.shape[1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, None, None]:
        x, weight = ctx.saved_tensors
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = F.conv2d(grad, weight.flip(-2, -1), None, 1, ctx.padding, ctx.dilation, x.shape[1])
        if ctx.needs_input_grad[1]:
            grad_w = depthwise_weight_grad(x, grad, weight.shape[-1], ctx.padding, ctx.dilation)
        return grad_x, grad_w, None, None


class _EvenGrid(torch.autograd.Function):
    """``x[:, :, ::2, ::2]`` copied in ``x``'s memory format; the gradient scattered back the same way
    (autograd's own slice backward would build it in NCHW whatever the layout of ``x``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.memory_format = (torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
                             else torch.contiguous_format)
        ctx.shape = x.shape
        return x[:, :, ::2, ::2].contiguous(memory_format=ctx.memory_format)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad_x = torch.empty(ctx.shape, dtype=grad.dtype, device=grad.device, memory_format=ctx.memory_format).zero_()
        grad_x[:, :, ::2, ::2] = grad
        return grad_x


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(c, c, k, groups=c, bias=False)`` (same parameters and state-dict keys) whose CPU
    training backward avoids oneDNN's slow depthwise kernels (module docstring).

    A stride-2 convolution with dilation 2 and padding p (even) only ever reads the input's even rows and
    columns: it is the undilated stride-1 convolution with padding p / 2 of that even grid. Its backward
    through oneDNN took 25-40 ms for the input gradient alone at 64x32x32x32; as the undilated
    convolution of the (four times smaller) even grid it takes the fast path above, and saves a quarter of
    the input for the backward instead of all of it.
    """

    def __init__(self, channels: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                 device=None, dtype=None):
        super().__init__(channels, channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                         groups=channels, bias=False, device=device, dtype=dtype)
        k, p, d = self.kernel_size[0], self.padding[0], self.dilation[0]  # padding may be a string ('same')
        square = not isinstance(self.padding, str) and all(
            len(set(v)) == 1 for v in (self.kernel_size, self.padding, self.dilation))
        same = square and 2 * p == d * (k - 1)
        self._fast_backward = same and self.stride == (1, 1)
        # the even grid's padding is p / 2: an even kernel (odd p) has no such grid
        self._even_grid = same and self.stride == (2, 2) and d == 2 and p % 2 == 0

    @torch.jit.unused
    def _use_fast_backward(self, x: torch.Tensor) -> bool:
        return ((self._fast_backward or self._even_grid) and not isinstance(x, torch.fx.Proxy)
                and x.device.type == 'cpu' and x.dtype == torch.float32 and self.weight.dtype == torch.float32
                and torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad)
                and not torch.is_autocast_enabled('cpu') and not torch.jit.is_tracing()
                and not torch.compiler.is_compiling())

    @torch.jit.unused
    def _fast_backward_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._even_grid:
            return _DepthwiseConvFunction.apply(_EvenGrid.apply(x), self.weight, self.padding[0] // 2, 1)
        return _DepthwiseConvFunction.apply(x, self.weight, self.padding[0], self.dilation[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting() and self._use_fast_backward(x):
            return self._fast_backward_forward(x)
        return self._conv_forward(x, self.weight, self.bias)
