"""The slow-fast population search (paper §3): optimizer, weight set, estimator and run loop.

Uses the zoo's network code for every candidate; knows nothing of OpenMMLab.
"""
from .config import ConfigError, SearchConfig, apply_overrides, load_config
from .optimizer import PairOutcome, SlowFastOptimizer, decide, outcomes_from_losses
from .runner import SearchResult, run_search
from .weight_set import WeightSet, omega_key

__all__ = ['SearchConfig', 'ConfigError', 'load_config', 'apply_overrides', 'SlowFastOptimizer', 'PairOutcome',
           'decide', 'outcomes_from_losses', 'WeightSet', 'omega_key', 'run_search', 'SearchResult']
