"""The candidate operations of the search space (paper Table 1) and the cell-input preprocessors.

Submodule layouts follow the DARTS-style code the authors used (``op.1`` is the first conv of a
ReLU-Conv-BN sequence, and so on) so that their checkpoints map onto these modules key for key.

Every op except the pools and the identity starts with a ReLU of its input. Inside a cell several ops
read the same state, so the cell applies that ReLU once per state and builds the ops with
``relu_input=False``: their leading ReLU becomes an ``nn.Identity`` placeholder (ReLU holds no weights,
so checkpoint keys are unchanged). Outputs and gradients are the same; the search saves one activation
per state instead of one per reading op, and the exported graph holds one ReLU per state.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .genotypes import OPS

__all__ = ['ReLUConvBN', 'FactorizedReduce', 'SepConv', 'DilConv', 'ScheduledDropPath', 'build_op', 'is_identity_op',
           'reads_activated_input']


def _leading_relu(relu_input: bool) -> nn.Module:
    return nn.ReLU(inplace=False) if relu_input else nn.Identity()


class ReLUConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int = 1, stride: int = 1, padding: int = 0,
                 relu_input: bool = True, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.op = nn.Sequential(
            _leading_relu(relu_input),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False, **dd),
            nn.BatchNorm2d(c_out, **dd),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def _odd_grid(x: torch.Tensor) -> torch.Tensor:
    """The pixels at odd (row, column) positions: the stride-2 grid shifted by one pixel. An odd size is
    zero-padded by one pixel at the bottom/right first, so the grid has ceil(size / 2) rows/columns."""
    if x.shape[-2] % 2 or x.shape[-1] % 2:
        x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
    return x[:, :, 1::2, 1::2]


# fx tracing (timm's feature extraction) sees a call, not the size test; torch.export resolves it.
torch.fx.wrap('_odd_grid')


class FactorizedReduce(nn.Module):
    """Stride-2 1x1 reduction from two pixel-offset grids, concatenated.

    The second grid reads the input shifted by one pixel. The authors pad the input at the bottom/right,
    shift it and apply a stride-2 conv; ``conv_2`` here is the same 1x1 conv applied at stride 1 to the
    odd-position pixels taken directly (``_odd_grid``): the same numbers, without a padded full-size copy
    (an even size needs no padding at all, so the exported graph holds one strided Slice and no Pad).
    """

    def __init__(self, c_in: int, c_out: int, relu_input: bool = True, device=None, dtype=None):
        super().__init__()
        if c_out % 2:
            raise ValueError(f'FactorizedReduce needs an even number of output channels, got {c_out}')
        dd = dict(device=device, dtype=dtype)
        self.relu = _leading_relu(relu_input)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False, **dd)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=1, padding=0, bias=False, **dd)  # reads _odd_grid
        self.bn = nn.BatchNorm2d(c_out, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(_odd_grid(x))], dim=1))


class SepConv(nn.Module):
    """(ReLU, depthwise kxk, pointwise 1x1, BN) twice; only the first depthwise conv is strided."""

    def __init__(self, c: int, kernel_size: int, stride: int, relu_input: bool = True, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        pad = kernel_size // 2
        self.op = nn.Sequential(
            _leading_relu(relu_input),
            nn.Conv2d(c, c, kernel_size, stride=stride, padding=pad, groups=c, bias=False, **dd),
            nn.Conv2d(c, c, 1, bias=False, **dd),
            nn.BatchNorm2d(c, **dd),
            nn.ReLU(inplace=False),  # in place measured no faster, and breaks full backward hooks on the BN
            nn.Conv2d(c, c, kernel_size, padding=pad, groups=c, bias=False, **dd),
            nn.Conv2d(c, c, 1, bias=False, **dd),
            nn.BatchNorm2d(c, **dd),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class DilConv(nn.Module):
    """ReLU, depthwise kxk with dilation 2, pointwise 1x1, BN."""

    def __init__(self, c: int, kernel_size: int, stride: int, dilation: int = 2, relu_input: bool = True,
                 device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        pad = dilation * (kernel_size - 1) // 2
        self.op = nn.Sequential(
            _leading_relu(relu_input),
            nn.Conv2d(c, c, kernel_size, stride=stride, padding=pad, dilation=dilation, groups=c, bias=False, **dd),
            nn.Conv2d(c, c, 1, bias=False, **dd),
            nn.BatchNorm2d(c, **dd),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class ScheduledDropPath(nn.Module):
    """Per-sample drop-path whose rate lives in a 0-d buffer.

    The rate is ramped every epoch (the authors' schedule). timm's DropPath keeps it as a Python float,
    which torch.compile guards on: every new rate recompiles the model, and after 8 recompiles torch
    silently falls back to eager. A buffer changes in place and compiles once. ``enabled`` (a Python
    bool, fixed once the model may drop at all) skips the whole thing for models built without drop-path.
    """

    def __init__(self, rate: float = 0., device=None):
        super().__init__()
        self.enabled = rate > 0
        self.register_buffer('rate', torch.tensor(float(rate), device=device), persistent=False)

    def set_rate(self, rate: float) -> None:
        with torch.no_grad():
            self.rate.fill_(rate)
        self.enabled = self.enabled or rate > 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.enabled:
            return x
        keep = (1. - self.rate).to(x.dtype)
        mask = torch.bernoulli(keep.expand(x.shape[0], 1, 1, 1).contiguous())
        # scale the (N, 1, 1, 1) mask, not the activation: one pass over x instead of two (as timm's
        # drop_path; the authors' DARTS code divides x in place, then multiplies)
        return x * (mask / keep)

    def extra_repr(self) -> str:
        return f'rate={float(self.rate):.3f}' if self.rate.device.type != 'meta' else 'rate=?'


def reads_activated_input(name: str, stride: int) -> bool:
    """Does op ``name`` start with a ReLU of its input (so a cell may hand it an activated state)?"""
    if name == 'skip_connect':
        return stride != 1  # the strided skip is a FactorizedReduce
    return name.startswith(('sep_conv', 'dil_conv'))


def build_op(name: str, channels: int, stride: int, relu_input: bool = True, device=None, dtype=None) -> nn.Module:
    """The op ``name`` on ``channels`` channels; stride 2 in a reduction cell's input edges.

    ``relu_input=False`` leaves out the op's leading ReLU (see the module docstring); only meaningful
    for ops where ``reads_activated_input`` is true.
    """
    dd = dict(device=device, dtype=dtype)
    conv_dd = dict(relu_input=relu_input, **dd)
    if name == 'max_pool_3x3':
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == 'avg_pool_3x3':
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == 'skip_connect':
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels, **conv_dd)
    if name == 'sep_conv_3x3':
        return SepConv(channels, 3, stride, **conv_dd)
    if name == 'sep_conv_5x5':
        return SepConv(channels, 5, stride, **conv_dd)
    if name == 'dil_conv_3x3':
        return DilConv(channels, 3, stride, **conv_dd)
    if name == 'dil_conv_5x5':
        return DilConv(channels, 5, stride, **conv_dd)
    raise ValueError(f'unknown op {name!r}; choose one of {", ".join(OPS)}')


def is_identity_op(op: nn.Module) -> bool:
    """Drop-path is never applied to an identity edge (it would drop the information path itself)."""
    return isinstance(op, nn.Identity)
