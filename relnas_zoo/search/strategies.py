"""How a generation's candidates are evaluated, and the final ranking.

* ``sequential`` (default, the authors' procedure): pairs run one after another and each pair's
  candidates inherit the Omega left by the previous pair; a checkpoint follows every pair.
* ``parallel``: every candidate of a generation inherits the Omega of the generation's start; the
  candidates are spread over the torchrun processes (:mod:`.gather`), and Omega is then updated pair by
  pair in pair order (Eq. 6), identically on every rank. One process gives the same result as N.

Each strategy applies the generation's decisions to the state; the caller ends the generation.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from ..encoding import decode
from ..predictor.pair_decider import PredictedPair
from .context import SearchContext
from .estimator import CandidateResult
from .gather import gather_results, mine
from .generation import Generation
from .state import RunFiles, SearchState, interrupts_deferred

__all__ = ['STRATEGIES', 'run_final_ranking', 'final_entry']

Save = Callable[[], None]


def _sequential(ctx: SearchContext, state: SearchState, gen: Generation, plan: List[Optional[PredictedPair]],
                files: RunFiles, save: Save, bar: Any) -> None:
    for p in range(state.pair_pos, len(gen.pairs)):
        i, j = gen.pairs[p]
        if plan[p] is not None:
            with interrupts_deferred():
                status = gen.apply_predicted(state, p, plan[p])
                state.pair_pos = p + 1
                save()
        else:
            res_i = ctx.evaluate(gen.genotypes[i], state.omega, gen.index, i)
            res_j = ctx.evaluate(gen.genotypes[j], state.omega, gen.index, j)
            with interrupts_deferred():
                records, status = gen.apply_evaluated(state, p, res_i, res_j, ctx.settings(gen.index))
                files.append_evaluations(records)
                state.pair_pos = p + 1
                save()
        if bar is not None:
            bar.update(2)
            bar.set_postfix_str(status)


def _parallel(ctx: SearchContext, state: SearchState, gen: Generation, plan: List[Optional[PredictedPair]],
              files: RunFiles, save: Save, bar: Any) -> None:
    order = [k for p, pair in enumerate(gen.pairs) if plan[p] is None for k in pair]
    own: Dict[int, CandidateResult] = {}
    for pos, idx in enumerate(order):
        if mine(pos, ctx.dist):
            own[idx] = ctx.evaluate(gen.genotypes[idx], state.omega, gen.index, idx)
            if bar is not None:
                bar.update(ctx.dist.world)
    results = gather_results(order, own, ctx.dist, ctx.device)
    with interrupts_deferred():  # saved by the caller with the generation's end
        for p, (i, j) in enumerate(gen.pairs):
            if plan[p] is not None:
                gen.apply_predicted(state, p, plan[p])
            else:
                records, _ = gen.apply_evaluated(state, p, results[i], results[j], ctx.settings(gen.index))
                files.append_evaluations(records)


STRATEGIES = {'sequential': _sequential, 'parallel': _parallel}


def final_entry(r: CandidateResult) -> Dict[str, Any]:
    from ..search_log import finite_or_none
    return dict(val_loss=finite_or_none(r.val_loss), val_acc=r.val_acc, train_loss=finite_or_none(r.train_loss),
                train_acc=r.train_acc, seconds=round(r.seconds, 3))


def run_final_ranking(ctx: SearchContext, state: SearchState, save: Save, bar: Any) -> None:
    """Every individual, one epoch each from the same final Omega, without writing back."""

    pending = [k for k, r in enumerate(state.final) if r is None]
    own: Dict[int, CandidateResult] = {}
    g = state.opt.generation
    for pos, k in enumerate(pending):
        if not mine(pos, ctx.dist):
            continue
        r = ctx.evaluate(decode(state.opt.population[k]), state.omega, g, k, final=True)
        own[k] = r
        if bar is not None:
            bar.update(ctx.dist.world)
        if ctx.dist.world == 1:  # one process: every evaluation is kept across a kill
            with interrupts_deferred():
                state.final[k] = final_entry(r)
                save()
    if ctx.dist.world > 1:
        results = gather_results(pending, own, ctx.dist, ctx.device)
        with interrupts_deferred():
            for k, r in results.items():
                state.final[k] = final_entry(r)
            save()
