"""RelativeNAS as an OpenMMLab backbone (mmdet, mmseg, mmpose), built on the zoo's network class.

The backbone *is* a :class:`~relnas_zoo.networks.RelativeNASNet` without a head, so its state-dict keys
are the zoo's: ``init_cfg=dict(type='Pretrained', checkpoint=...)`` loads our checkpoints and the
authors' (converted on load by the network's own hook), with or without a ``prefix``.
"""

from typing import Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..genotypes import GenotypeLike
from ..keymap import drop_prefixed
from ..networks import RelativeNASNet
from ..state_dicts import CheckpointMismatchError, identify_checkpoint, prepare_state_dict

__all__ = ['RelativeNASBackbone', 'StageFreezing']


class StageFreezing:
    """``frozen_stages`` and ``norm_eval`` for a backbone that says which modules compute each level
    (``_stage_modules``); shared by every backbone of this package."""

    frozen_stages: int
    norm_eval: bool

    def _stage_modules(self, level: int) -> Sequence[nn.Module]:
        raise NotImplementedError

    def _freeze_stages(self) -> None:
        for level in range(self.frozen_stages + 1):
            for m in self._stage_modules(level):
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


class RelativeNASBackbone(StageFreezing, RelativeNASNet, BaseModule):
    """Feature maps at the levels of ``feature_info`` (ImageNet layout: strides 4, 8, 16, 32).

    Args:
        genotype: genotype name ('RelativeNAS', 'DARTS_V2', ...), JSON path or dict.
        C, layers, stem_type: the network (defaults: the ImageNet RelativeNAS, C=46, 14 cells).
        in_channels: input image channels.
        out_indices: which levels to return (0: stem, stride 4; 1..3: strides 8, 16, 32).
        frozen_stages: freeze the stem (0) and the cells up to level ``frozen_stages``; -1 freezes nothing.
        norm_eval: keep BatchNorm layers in eval mode while training (frozen statistics).
        drop_path_rate: drop-path on the cell edges.
        with_cp: gradient checkpointing per cell (saves memory, costs a recomputation).
        norm_cfg: ``dict(type='BN')`` (default) or ``dict(type='SyncBN')``: synchronise BN statistics over
            the GPUs of a run (at 4-8 images per GPU, per-GPU statistics differ from a single GPU's 32);
            ``requires_grad=False`` freezes the BN affine parameters.
        prune_unused: skip cell inputs the genotype never reads (default); ``False`` builds and runs the
            authors' dead preprocess layers too (to reproduce their parameter and FLOP counts).
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint='relativenas_imagenet.pth')``.
        device, dtype: where and in which dtype to create the weights (``'meta'`` allocates nothing).
    """

    checkpoint_network = RelativeNASNet  # the network a checkpoint report builds its candidates from

    def __init__(
            self,
            genotype: GenotypeLike = 'RelativeNAS',
            C: int = 46,
            layers: int = 14,
            stem_type: str = 'imagenet',
            in_channels: int = 3,
            out_indices: Sequence[int] = (0, 1, 2, 3),
            frozen_stages: int = -1,
            norm_eval: bool = False,
            drop_path_rate: float = 0.,
            with_cp: bool = False,
            norm_cfg: Optional[dict] = None,
            prune_unused: bool = True,
            init_cfg: Optional[dict] = None,
            device=None,
            dtype=None,
    ):
        RelativeNASNet.__init__(self, genotype=genotype, C=C, layers=layers, num_classes=0, in_chans=in_channels,
                                stem_type=stem_type, drop_path_rate=drop_path_rate, global_pool='',
                                prune_unused=prune_unused, device=device, dtype=dtype)
        self.init_cfg = init_cfg
        self._apply_norm_cfg(norm_cfg or dict(type='BN'))
        n_levels = len(self.feature_info)
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i < n_levels for i in out_indices) or list(out_indices) != sorted(set(out_indices)):
            raise ValueError(f'out_indices={out_indices}: give increasing level indices in 0..{n_levels - 1} '
                             f'(strides {[f["reduction"] for f in self.feature_info]})')
        if not -1 <= frozen_stages < n_levels:
            raise ValueError(f'frozen_stages={frozen_stages}: must lie in -1..{n_levels - 1}')
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.prune_intermediate_layers(list(out_indices))  # drop cells after the last level asked for
        self.set_grad_checkpointing(with_cp)
        self._freeze_stages()

    def _apply_norm_cfg(self, norm_cfg: dict) -> None:
        kind = norm_cfg.get('type', 'BN')
        if kind in ('SyncBN', 'MMSyncBN'):
            for name, child in list(self.named_children()):  # in place: keeps this module's identity
                setattr(self, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
        elif kind not in ('BN', 'BN2d'):
            raise ValueError(f"norm_cfg type {kind!r}: RelativeNASBackbone supports 'BN' and 'SyncBN'")
        if not norm_cfg.get('requires_grad', True):
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.requires_grad_(False)

    def dead_state_prefixes(self) -> Tuple[str, ...]:
        # A backbone is made from a classification network, and its checkpoints are theirs: the
        # classifier, the auxiliary head and the cells after the last level asked for are, for it, dead
        # weights like the authors' unread cell inputs, dropped by every load (init_cfg's included).
        return super().dead_state_prefixes() + self.optional_state_prefixes()

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._partial_load_allowed = not strict  # PyTorch's own call says whether a partial file is wanted
        try:
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        finally:
            self._partial_load_allowed = False

    def _upgrade_state_dict(self, state_dict, prefix: str, *args) -> None:
        # mmengine's loaders (init_cfg=Pretrained with or without prefix, load_from, --resume) call the
        # modules' hooks with strict=False and only log what does not fit: a file of another network would
        # leave a mostly random backbone and training would go on. A file that holds backbone weights must
        # hold this backbone's, all of them.
        raw = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        super()._upgrade_state_dict(state_dict, prefix, *args)
        if getattr(self, '_partial_load_allowed', False) or not raw:
            return
        try:
            prepare_state_dict(raw, self, strict=True)
        except CheckpointMismatchError as e:
            raise CheckpointMismatchError(self._misfit_message(raw, prefix, str(e))) from None

    def _misfit_message(self, weights, prefix: str, report: str) -> str:
        ours = f'genotype={self.genotype.name!r}, C={self.C}, layers={self.layers}'
        where = f" under '{prefix}'" if prefix else ''
        drop_prefixed(weights, ('auxiliary_head.', 'classifier.'))
        arch = identify_checkpoint(weights, RelativeNASNet)
        if arch is None:
            first = report.splitlines()[1].strip() if len(report.splitlines()) > 1 else report
            return (f'RelativeNASBackbone({ours}) cannot load the checkpoint{where}: it holds no RelativeNAS/'
                    f'DARTS-space network ({first})')
        genotype = repr(arch['genotype']) if arch['genotype'] else "'<the genotype .json the file was trained with>'"
        stem = '' if arch['stem_type'] == self.stem_type else f", stem_type={arch['stem_type']!r}"
        return (f'RelativeNASBackbone({ours}) cannot load the checkpoint{where}: it holds genotype '
                f'{arch["genotype"] or "(none of the published)"}, C={arch["C"]}, layers={arch["layers"]} '
                f'({arch["stem_type"]} stem). Build the backbone for it: backbone=dict(type=\'RelativeNASBackbone\', '
                f'genotype={genotype}, C={arch["C"]}, layers={arch["layers"]}{stem}, ...), or give this backbone\'s '
                f'checkpoint')

    @property
    def out_channels(self) -> Tuple[int, ...]:
        return tuple(self.feature_info[i]['num_chs'] for i in self.out_indices)

    @property
    def out_strides(self) -> Tuple[int, ...]:
        return tuple(self.feature_info[i]['reduction'] for i in self.out_indices)

    def _stage_modules(self, level: int) -> Sequence[nn.Module]:
        """Modules that compute level ``level`` from the previous one."""
        if level == 0:
            return [self.stem] if hasattr(self, 'stem') else [self.stem0, self.stem1]
        first = 0 if level == 1 else self.level_cells[level - 2] + 1
        return list(self.cells[first:self.level_cells[level - 1] + 1])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(self.forward_intermediates(x, indices=list(self.out_indices), stop_early=True,
                                                intermediates_only=True))
