"""Inference latency measured the way a deployment decision needs it: runtimes side by side in one run.

Every runtime is checked against eager PyTorch before it is timed, then all are timed on the same inputs,
interleaved round by round (so drift in machine load hits them alike), and the median is reported.
Runtimes: ``eager`` (NCHW), ``channels_last``, ``bn_folded`` (``relnas_zoo.deploy``), ``bn_folded_cl``
(both), ``compile`` (``torch.compile``, default mode) and ``onnxruntime`` (the file ``relnas-zoo export``
writes, in ONNX Runtime's CPU provider with as many threads as torch).
"""
from __future__ import annotations

import collections
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .deploy import fold_batchnorm

__all__ = ['RUNTIMES', 'build_runtimes', 'check_outputs', 'interleaved_rounds', 'time_interleaved', 'onnx_session',
           'onnx_op_profile']

RUNTIMES = ('eager', 'channels_last', 'bn_folded', 'bn_folded_cl', 'compile', 'onnxruntime')

Runner = Tuple[Callable[[torch.Tensor], torch.Tensor], torch.memory_format]


def _channels_last(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).to(memory_format=torch.channels_last)


def onnx_session(model: nn.Module, input_size: Sequence[int], channel_multiple: int = 8, threads: int = 0,
                 **options):
    """``model`` exported by ``relnas_zoo.export`` (BN folded, checked) in an ONNX Runtime CPU session
    (``options``: extra ``SessionOptions`` attributes); returns (session, ops per type in the exported file,
    the optimised graph's ops per type if ``optimized_model_filepath`` is given)."""
    import onnx
    import onnxruntime as ort
    from .export import export_onnx
    with tempfile.TemporaryDirectory(prefix='relnas_bench_') as tmp:  # the session keeps the model in memory
        path = Path(tmp) / 'model.onnx'
        export_onnx(model, path, input_size, tolerance=1e-3, channel_multiple=channel_multiple)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        for key, value in options.items():
            setattr(opts, key, value)
        if 'optimized_model_filepath' in options:
            opts.optimized_model_filepath = str(Path(tmp) / 'optimized.onnx')
        session = ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])
        exported = collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)
        optimized = (collections.Counter(n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node)
                     if 'optimized_model_filepath' in options else None)
    return session, exported, optimized


def _ort_runner(session) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: torch.from_numpy(session.run(None, {'image': x.numpy()})[0])


def build_runtimes(model: nn.Module, runtimes: Sequence[str], input_size: Sequence[int],
                   channel_multiple: int = 8) -> Dict[str, Runner]:
    """name -> (callable, memory format its input must have)."""
    unknown = [r for r in runtimes if r not in RUNTIMES]
    if unknown:
        raise ValueError(f'unknown runtime(s) {unknown}; choose from {", ".join(RUNTIMES)}')
    model = model.eval()
    out: Dict[str, Runner] = {}
    for name in runtimes:
        if name == 'eager':
            out[name] = (model, torch.contiguous_format)
        elif name == 'channels_last':
            out[name] = (_channels_last(model), torch.channels_last)
        elif name == 'bn_folded':
            out[name] = (fold_batchnorm(model), torch.contiguous_format)
        elif name == 'bn_folded_cl':
            out[name] = (_channels_last(fold_batchnorm(model)), torch.channels_last)
        elif name == 'compile':
            out[name] = (torch.compile(model), torch.contiguous_format)
        else:
            session, _, _ = onnx_session(model, input_size, channel_multiple)
            out[name] = (_ort_runner(session), torch.contiguous_format)
    return out


@torch.inference_mode()
def check_outputs(reference: nn.Module, runners: Dict[str, Runner], x: torch.Tensor, warmup: int = 1,
                  atol: float = 1e-3) -> Dict[str, float]:
    """Warm every runner up and compare its output with ``reference``; returns warm-up seconds per runner."""
    want = reference(x)
    seconds = {}
    for name, (fn, fmt) in runners.items():
        xi = x.contiguous(memory_format=fmt)
        t0 = time.perf_counter()
        for _ in range(max(warmup, 1)):
            got = fn(xi)
        seconds[name] = time.perf_counter() - t0
        err = (got - want).abs().max().item()
        if err > atol:
            raise RuntimeError(f'{name} differs from eager PyTorch by {err:.3g} (> {atol:g})')
    return seconds


def interleaved_rounds(measures: Dict[str, Callable[[], float]], rounds: int,
                       report: Optional[Callable[[int, str, float], None]] = None) -> Dict[str, List[float]]:
    """Every measurement of every variant, the variants taking turns within each round.

    Interleaving spreads a machine's drift over all variants alike, so their ratios hold within a run
    even where the absolute figures do not. ``report(round, name, value)`` is called after each one.
    """
    values: Dict[str, List[float]] = {name: [] for name in measures}
    for r in range(rounds):
        for name, measure in measures.items():
            values[name].append(measure())
            if report is not None:
                report(r, name, values[name][-1])
    return values


def _seconds_of(fn: Callable[[torch.Tensor], Any], x: torch.Tensor) -> Callable[[], float]:
    def measure() -> float:
        t0 = time.perf_counter()
        fn(x)
        return time.perf_counter() - t0
    return measure


@torch.inference_mode()
def time_interleaved(runners: Dict[str, Runner], x: torch.Tensor, rounds: int) -> Dict[str, float]:
    """Median seconds per call of every runner, the runners interleaved within each round."""
    inputs = {fmt: x.contiguous(memory_format=fmt) for _, fmt in runners.values()}
    times = interleaved_rounds({name: _seconds_of(fn, inputs[fmt]) for name, (fn, fmt) in runners.items()}, rounds)
    return {name: statistics.median(ts) for name, ts in times.items()}


def onnx_op_profile(model: nn.Module, input_size: Sequence[int], batch_size: int = 1, runs: int = 20,
                    channel_multiple: int = 8) -> dict:
    """Where ONNX Runtime spends the time: per op type of the graph it runs (after its own fusions and
    layout changes), mean ms per run, plus op counts of the exported and of the optimized graph."""
    with tempfile.TemporaryDirectory(prefix='relnas_profile_') as tmp:
        # log level 3: no warning about saving an optimized graph (it is only counted)
        session, exported, ran = onnx_session(model, input_size, channel_multiple, enable_profiling=True,
                                              profile_file_prefix=str(Path(tmp) / 'profile'),
                                              optimized_model_filepath='', log_severity_level=3)
        x = torch.randn(batch_size, *input_size).numpy()
        for _ in range(runs):
            session.run(None, {'image': x})
        with open(session.end_profiling()) as f:
            trace = json.load(f)
    total: Dict[str, float] = collections.Counter()
    calls: Dict[str, int] = collections.Counter()
    for event in trace:
        if event.get('cat') == 'Node' and event['name'].endswith('_kernel_time'):
            total[event['args']['op_name']] += event['dur']
            calls[event['args']['op_name']] += 1
    return dict(ms_per_op_type={k: v / runs / 1e3 for k, v in total.most_common()},
                nodes_per_op_type={k: calls[k] // runs for k in total},
                exported_ops=dict(exported.most_common()), optimized_ops=dict(ran.most_common()),
                exported_op_count=sum(exported.values()), optimized_op_count=sum(ran.values()))
