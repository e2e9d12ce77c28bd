"""The search's use of the pair decider (config ``predictor: renas``): which pairs of a generation are
decided without training.

From generation ``predictor_warmup`` on, before a generation's first pair, the decider
(:mod:`relnas_zoo.predictor.pair_decider`, the graph feature set's recipe unless the config says
otherwise; on CIFAR-10 it also learns NAS-Bench-301's accuracies, ``predictor_prior``) is refitted on
every pair decision evaluated so far and decides the pairs it is confident about: neither
candidate is trained, Omega takes no weights from the pair, and the slow-learner moves towards the
predicted fast-learner as usual. The plan is made once, on the main process, and kept in the checkpoint
with the decider, so a resumed run decides exactly as an uninterrupted one.
"""
from __future__ import annotations

import logging
from typing import List, Optional, Sequence, Tuple

from ..distributed import DistInfo
from ..genotypes import Genotype
from ..predictor.pair_decider import DeciderConfig, PairDecider, PredictedPair
from ..predictor.spaces import get_space
from .config import SearchConfig
from .gather import broadcast_from_main

__all__ = ['make_decider', 'plan_pairs', 'prior_table_name', 'DECIDER_SEED_KEY']

log = logging.getLogger('relnas_zoo.search')
DECIDER_SEED_KEY = 0x9E7A5  # with (seed, generation): the fit's seed, apart from every candidate's


def prior_table_name(cfg: SearchConfig) -> str:
    """The name of the built-in table the decider learns beside the search's pairs ('none': none)."""
    prior = cfg.predictor_prior
    if prior == 'auto':
        prior = 'nb301' if cfg.dataset == 'cifar10' else 'none'  # its accuracies are CIFAR-10's
    return 'naslib' if prior == 'nb301' else 'none'


def make_decider(cfg: SearchConfig) -> Optional[PairDecider]:
    if cfg.predictor == 'none':
        return None
    space = get_space('relnas', proxy=(cfg.C, cfg.layers))  # costs measured on the search's own proxy
    features = cfg.predictor_features or space.recipe.features
    recipe = space.recipe_for(features)
    return PairDecider(space, DeciderConfig(
        threshold=cfg.predictor_threshold, epochs=cfg.predictor_epochs or recipe.epochs,
        batch_size=cfg.predictor_batch_size or recipe.batch_size, features=features,
        retrain_every=cfg.predictor_retrain_every, seed=cfg.seed, prior=prior_table_name(cfg)))


def plan_pairs(decider: Optional[PairDecider], cfg: SearchConfig, dist: DistInfo, generation: int,
               genotypes: Sequence[Genotype], pairs: Sequence[Tuple[int, int]]) -> List[Optional[PredictedPair]]:
    """This generation's predicted decisions (None: train the pair), the same on every process."""
    plan: List[Optional[PredictedPair]] = [None] * len(pairs)
    if decider is None:
        return plan
    if dist.main and generation >= cfg.predictor_warmup:
        decider.fit(generation, DECIDER_SEED_KEY, generation=generation)
        plan = decider.decide(genotypes, pairs)
        if decider.predictor is not None:
            log.info('generation %d: the predictor (%d training pairs, %.1fs) decides %d of %d pairs', generation,
                     len(decider.pairs), decider.predictor.fit_seconds, sum(p is not None for p in plan), len(pairs))
    return broadcast_from_main(plan, dist)  # one decider, on the main process; every rank follows its plan
