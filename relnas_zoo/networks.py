"""The RelativeNAS evaluation networks (CIFAR and ImageNet layouts), with the timm model API.

One class covers both layouts: ``stem_type='cifar'`` (one 3x3 conv to 3C, for 32x32 inputs) and
``stem_type='imagenet'`` (three stride-2 3x3 convs). Reduction cells sit at ``layers // 3`` and
``2 * layers // 3``; the optional auxiliary head reads the second reduction cell's output.

No ``from __future__ import annotations`` here: fx-traced graphs of these modules are scripted with
TorchScript, which cannot resolve postponed (string) annotations.
"""

from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

import torch
from timm.layers import create_classifier, get_device_dtype
from timm.models._features import feature_take_indices
from timm.models._manipulate import checkpoint
from torch import nn

from .cells import Cell, unused_prefixes
from .errors import InputError
from .ops import ScheduledDropPath
from .genotypes import Genotype, GenotypeLike, resolve_genotype
from .keymap import authors_key_to_ours, drop_prefixed, is_authors_layout
from .state_dicts import prepare_state_dict

__all__ = ['ArchitectureError', 'RelativeNASNet', 'AuxOutput', 'AuxiliaryHead', 'reduction_layers']


class ArchitectureError(InputError, ValueError):
    """Network arguments that build no network (a channel count, a cell count, a stem); the message names them."""

STEM_TYPES = ('cifar', 'imagenet')


def reduction_layers(layers: int) -> Tuple[int, int]:
    return layers // 3, 2 * layers // 3


class AuxOutput(NamedTuple):
    """What :meth:`RelativeNASNet.forward_with_aux` returns: main and auxiliary logits."""
    logits: torch.Tensor
    aux_logits: Optional[torch.Tensor]


class AuxiliaryHead(nn.Module):
    """The auxiliary classifier of the paper's recipes, read after the second reduction.

    CIFAR (an 8x8 map): pooling stride 3 and a BN after the 2x2 conv; ImageNet (14x14): stride 2 and,
    as in the authors' (DARTS) code, no BN there. The layer indices match their checkpoints either way.
    """

    def __init__(self, channels: int, num_classes: int, pool_stride: int = 3, bn_after_second_conv: bool = True,
                 device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        layers = [
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=pool_stride, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False, **dd),
            nn.BatchNorm2d(128, **dd),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False, **dd),
        ]
        if bn_after_second_conv:
            layers.append(nn.BatchNorm2d(768, **dd))
        self.features = nn.Sequential(*layers, nn.ReLU(inplace=True))
        self.classifier = nn.Linear(768, num_classes, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class RelativeNASNet(nn.Module):
    """A stack of genotype cells with a stem and a classifier.

    Args:
        genotype: a Genotype, a published name ('RelativeNAS', 'DARTS_V2', ...), a JSON path or a dict.
        C: channels of each node in the first cells (doubled at each reduction).
        layers: number of cells.
        num_classes: classifier outputs (0 for no classifier).
        in_chans: input image channels.
        stem_type: 'cifar' or 'imagenet'.
        auxiliary: build the auxiliary head (use :meth:`forward_with_aux` to get its logits).
        drop_rate: dropout before the classifier.
        drop_path_rate: per-sample drop-path on non-identity cell edges; change it with
            :meth:`set_drop_path_rate` (the authors ramp it linearly over training).
        global_pool: timm pooling type for the head.
        prune_unused: skip cell inputs/nodes the output never reads (default). ``False`` builds the
            authors' network exactly, dead weights included.
        share_duplicate_edges: one module for a node whose two inputs are the same (op, input node);
            the search's proxy networks use it (see :class:`~relnas_zoo.cells.Cell`).
        device, dtype: where and in which dtype to create every parameter and buffer (timm's factory
            arguments: ``device='meta'`` allocates nothing; then ``to_empty`` and load weights).
    """
    single_stem: torch.jit.Final[bool]

    def __init__(
            self,
            genotype: GenotypeLike = 'RelativeNAS',
            C: int = 36,
            layers: int = 20,
            num_classes: int = 10,
            in_chans: int = 3,
            stem_type: str = 'cifar',
            auxiliary: bool = False,
            drop_rate: float = 0.,
            drop_path_rate: float = 0.,
            global_pool: str = 'avg',
            prune_unused: bool = True,
            share_duplicate_edges: bool = False,
            device=None,
            dtype=None,
    ):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        if stem_type not in STEM_TYPES:
            raise ArchitectureError(f'stem_type={stem_type!r} is not one of {STEM_TYPES}')
        if not isinstance(C, int) or C < 2 or C % 2:
            raise ArchitectureError(f'C={C!r}: the initial channel count must be an even int >= 2 '
                             f'(factorized reductions split channels in halves)')
        if not isinstance(layers, int) or layers < 3:
            raise ArchitectureError(f'layers={layers!r}: need at least 3 cells (two of them reduce)')
        self.genotype: Genotype = resolve_genotype(genotype)
        self.C = C
        self.layers = layers
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.stem_type = stem_type
        self.drop_rate = drop_rate
        self.drop_path_rate = drop_path_rate
        self.prune_unused = prune_unused
        self.grad_checkpointing = False
        self.single_stem = stem_type == 'cifar'  # one stem conv (CIFAR), or stem0 and stem1 (ImageNet)

        if stem_type == 'cifar':
            c_stem = 3 * C
            self.stem = nn.Sequential(
                nn.Conv2d(in_chans, c_stem, 3, padding=1, bias=False, **dd),
                nn.BatchNorm2d(c_stem, **dd),
            )
            c_prev_prev = c_prev = c_stem
            reduction_prev = False
            stem_info = dict(num_chs=c_stem, reduction=1, module='stem')
            stride = 1
        else:
            self.stem0 = nn.Sequential(
                nn.Conv2d(in_chans, C // 2, 3, stride=2, padding=1, bias=False, **dd),
                nn.BatchNorm2d(C // 2, **dd),
                nn.ReLU(inplace=True),
                nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False, **dd),
                nn.BatchNorm2d(C, **dd),
            )
            self.stem1 = nn.Sequential(
                nn.ReLU(inplace=False),
                nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False, **dd),
                nn.BatchNorm2d(C, **dd),
            )
            c_prev_prev = c_prev = C
            reduction_prev = True
            stem_info = dict(num_chs=C, reduction=4, module='stem0')
            stride = 8

        reductions = reduction_layers(layers)
        self.aux_index = reductions[1]
        self.cells = nn.ModuleList()
        self.feature_info: List[Dict[str, Any]] = [stem_info]
        c_curr = C
        c_aux = 0
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                c_curr *= 2
                stride *= 2
            edges, concat = self.genotype.cell(reduction)
            cell = Cell(edges, concat, c_prev_prev, c_prev, c_curr, reduction, reduction_prev,
                        drop_path_rate=drop_path_rate, prune_unused=prune_unused,
                        share_duplicate_edges=share_duplicate_edges, activated_inputs=True, **dd)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.out_channels
            if i == self.aux_index:
                c_aux = c_prev
            if i + 1 in reductions or i == layers - 1:
                self.feature_info.append(dict(num_chs=c_prev, reduction=stride, module=f'cells.{i}'))
        self.activated_states: List[bool] = self._states_to_activate()
        # feature level -> index of the cell whose output it is (level 0, the stem, has none)
        self.level_cells: List[int] = [int(f['module'].split('.')[1]) for f in self.feature_info[1:]]
        self._num_levels: int = len(self.feature_info)

        self.auxiliary_head = None
        if auxiliary:
            cifar = stem_type == 'cifar'
            self.auxiliary_head = AuxiliaryHead(c_aux, num_classes, pool_stride=3 if cifar else 2,
                                                bn_after_second_conv=cifar, **dd)

        self.num_features = self.head_hidden_size = c_prev
        self.global_pool, self.classifier = create_classifier(c_prev, num_classes, pool_type=global_pool, **dd)
        self.head_drop = nn.Dropout(drop_rate)
        # registered as a function with the module passed in (held by a weak reference): a bound method
        # would make every network a reference cycle, whose memory (a CUDA graph's pool too, through the
        # gradients) waits for the garbage collector instead of being freed when the last reference goes
        self.register_load_state_dict_pre_hook(type(self)._upgrade_state_dict)

    # ----------------------------------------------------------------------------------------- timm API
    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> Dict[str, Any]:
        return dict(stem=r'^stem', blocks=r'^cells\.(\d+)' if coarse else [(r'^cells\.(\d+)', None)])

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        """A new classifier for ``num_classes`` (0: none) on the model's device and dtype;
        ``global_pool`` None keeps the current pooling, '' removes it."""
        dd = get_device_dtype(self)
        self.num_classes = num_classes
        if global_pool is None:
            global_pool = self.global_pool.pool_type
        self.global_pool, self.classifier = create_classifier(self.num_features, num_classes, pool_type=global_pool,
                                                              **dd)
        self.global_pool.train(self.training)
        self.classifier.train(self.training)

    @torch.jit.ignore
    def set_drop_path_rate(self, rate: float) -> None:
        """Set the drop-path probability of every cell edge (e.g. once per epoch for a linear ramp).

        The rate is a buffer, so a torch.compile'd model does not recompile; build the model with its
        largest rate (``drop_path_rate=``) so that drop-path is on from the first compile.
        """
        if not 0. <= rate < 1.:
            raise ArchitectureError(f'drop-path rate must be in [0, 1), got {rate}')
        self.drop_path_rate = rate
        for m in self.modules():
            if isinstance(m, ScheduledDropPath):
                m.set_rate(rate)

    def _states_to_activate(self) -> List[bool]:
        """Per state (stem outputs s0, s1, then each cell's output): does a preprocess layer read it?

        Cells are built with ``activated_inputs``: cell i reads states i and i + 1 through preprocess
        layers that would each start with a ReLU, so the network applies that ReLU once per state.
        """
        n = len(self.cells)
        read = [False] * (n + 2)
        for i, cell in enumerate(self.cells):
            read[i] = read[i] or cell.uses_input0
            read[i + 1] = read[i + 1] or cell.uses_input1
        if self.single_stem:  # both stem states are the stem's one output
            read[0] = read[1] = read[0] or read[1]
        return read

    def _activate(self, state: torch.Tensor, index: int) -> torch.Tensor:
        return torch.relu(state) if self.activated_states[index] else state

    def _stem(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The stem's feature, the first cell's two inputs as it reads them, and the raw state s1."""
        if self.single_stem:  # a constant under TorchScript: the other branch is not compiled
            x = self.stem(x)
            a = self._activate(x, 0)
            return x, a, a, x
        s0 = self.stem0(x)
        s1 = self.stem1(s0)
        return s0, self._activate(s0, 0), self._activate(s1, 1), s1

    @torch.jit.ignore
    def _run_cell(self, cell: nn.Module, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        if self.grad_checkpointing and not torch.jit.is_scripting():
            return checkpoint(cell, s0, s1)
        return cell(s0, s1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        _, a0, a1, s1 = self._stem(x)
        for i, cell in enumerate(self.cells):  # _run_cell inlined: TorchScript cannot pass a module as an argument
            if self.grad_checkpointing and not torch.jit.is_scripting():
                s1 = checkpoint(cell, a0, a1)
            else:
                s1 = cell(a0, a1)
            a0, a1 = a1, self._activate(s1, i + 2)
        return s1

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x)
        x = self.head_drop(x)
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    @torch.jit.ignore
    def forward_with_aux(self, x: torch.Tensor) -> AuxOutput:
        """Training API: main logits plus the auxiliary head's logits (None when the model was built
        without ``auxiliary=True``, or in eval mode). Loss: ``ce(logits) + w * ce(aux_logits)``."""
        aux_logits = None
        _, a0, a1, s1 = self._stem(x)
        for i, cell in enumerate(self.cells):
            s1 = self._run_cell(cell, a0, a1)
            a0, a1 = a1, self._activate(s1, i + 2)
            if i == self.aux_index and self.auxiliary_head is not None and self.training:
                aux_logits = self.auxiliary_head(s1)
        return AuxOutput(self.forward_head(s1), aux_logits)

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices: Optional[Union[int, List[int]]] = None,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = 'NCHW',
            intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Features at the levels of ``feature_info`` (stem, the cell before each reduction, last cell).

        Scriptable, so ``features_only`` models script too.

        Args:
            indices: last n levels if int, all if None, these levels if a sequence (negative allowed).
            norm: accepted for API compatibility; the network has no final norm.
            stop_early: stop after the last requested level.
            output_fmt: only 'NCHW'.
            intermediates_only: return only the list of features.
        """
        if output_fmt != 'NCHW':
            raise ValueError("output_fmt: only 'NCHW' is supported")
        take_indices, max_index = feature_take_indices(self._num_levels, indices)
        intermediates: List[torch.Tensor] = []
        stem, a0, a1, s1 = self._stem(x)
        if 0 in take_indices:
            intermediates.append(stem)
        n_cells = len(self.cells)
        if stop_early:
            n_cells = 0 if max_index == 0 else min(n_cells, self.level_cells[max_index - 1] + 1)
        for i, cell in enumerate(self.cells):
            if i < n_cells:  # no break: TorchScript unrolls loops over a ModuleList
                if self.grad_checkpointing and not torch.jit.is_scripting():
                    s1 = checkpoint(cell, a0, a1)
                else:
                    s1 = cell(a0, a1)
                a0, a1 = a1, self._activate(s1, i + 2)
                if i in self.level_cells and self.level_cells.index(i) + 1 in take_indices:
                    intermediates.append(s1)
        if intermediates_only:
            return intermediates
        return s1, intermediates

    @torch.jit.ignore
    def prune_intermediate_layers(
            self,
            indices: Union[int, List[int]] = 1,
            prune_norm: bool = False,
            prune_head: bool = True,
    ) -> List[int]:
        """Drop the cells after the last requested level (and the head); returns absolute indices."""
        take_indices, max_index = feature_take_indices(len(self.feature_info), indices)
        keep = 0 if max_index == 0 else self.level_cells[max_index - 1] + 1
        self.cells = self.cells[:keep]
        self.activated_states = self._states_to_activate()
        if self.aux_index >= keep:
            self.auxiliary_head = None
        if max_index < len(self.feature_info) - 1:
            self.num_features = self.head_hidden_size = self.feature_info[max_index]['num_chs']
        if prune_head or max_index < len(self.feature_info) - 1:
            self.reset_classifier(0, '')
        return take_indices

    # ------------------------------------------------------------------------------------ checkpoints
    def dead_state_prefixes(self) -> Tuple[str, ...]:
        """Key prefixes of the authors' dead preprocess layers and nodes (cell inputs the genotype never
        reads), which their unpruned layout holds and a pruned network does not build. Part of converting
        their layout: the same function either way, so every load drops them."""
        if not self.prune_unused:
            return ()
        reductions = reduction_layers(self.layers)
        out: List[str] = []
        for i in range(len(self.cells)):
            edges, concat = self.genotype.cell(i in reductions)
            out += [f'cells.{i}.{p}' for p in unused_prefixes(edges, concat)]
        return tuple(out)

    def optional_state_prefixes(self) -> Tuple[str, ...]:
        """Key prefixes a checkpoint may hold for parts this network was built without: an auxiliary head
        (training-only), a classifier (headless), cells removed by :meth:`prune_intermediate_layers`.
        A strict load refuses them, as PyTorch's does; the loaders that build a model for a file (timm's
        ``pretrained_cfg_overlay=dict(file=...)``, ``model_from_checkpoint``) drop them."""
        out = [] if self.auxiliary_head is not None else ['auxiliary_head.']
        if self.num_classes == 0:
            out.append('classifier.')
        out += [f'cells.{i}.' for i in range(len(self.cells), self.layers)]
        return tuple(out)

    def unused_state_prefixes(self) -> Tuple[str, ...]:
        """Every key prefix a checkpoint may hold that this network does not use: dead and optional."""
        return self.dead_state_prefixes() + self.optional_state_prefixes()

    def _upgrade_state_dict(self, state_dict: Dict[str, Any], prefix: str, *args: Any) -> None:
        # Runs inside every load (ours, timm's, mmengine's), so authors' checkpoints load anywhere.
        keys = [k for k in state_dict if k.startswith(prefix)]
        if is_authors_layout(k[len(prefix):] for k in keys):
            for k in keys:
                new = prefix + authors_key_to_ours(k[len(prefix):])
                if new != k:
                    state_dict[new] = state_dict.pop(k)
        drop_prefixed(state_dict, [prefix + p for p in self.dead_state_prefixes()])

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """Load ours or the authors' layout, strictly by default as PyTorch's does.

        The authors' layout is converted inside every load (their key names, their dead modules), the
        way PyTorch modules upgrade old state-dict versions in ``_load_from_state_dict``: it is the same
        network, and frameworks (timm's ``checkpoint_path=``, mmengine, DDP) only ever call this method.
        Keys of parts this network lacks (an auxiliary head, a classifier, pruned cells) are not dropped:
        ``strict=True`` refuses them with a report saying which loader takes only what the model uses,
        ``strict=False`` returns them as unexpected keys.
        """
        state_dict = prepare_state_dict(state_dict, self, strict=strict)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
