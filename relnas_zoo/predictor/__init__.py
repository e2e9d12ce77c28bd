"""Predictors that learn which of two architectures is better, with ReNAS's pairwise loss (Xu et al., CVPR 2021).

Each space (``spaces``: ``nb201``, ``nb101``, and ``darts`` for the DARTS space of this package's search
and NAS-Bench-301) gives its architectures as cell graphs, whose path figures (``graph_features``) an MLP
scores (the default ``graph`` feature set), and as ReNAS feature tensors, which ReNAS's small CNN scores
(``renas`` sets); both train with the pairwise ranking loss (``model``, ``predictor``); ``pair_decider`` decides slow-fast pairs with it
(the real search's and the table searches'); ``tables`` reads benchmark data without executing anything.
This package imports nothing of the search: the search and the experiments (``relnas_zoo.experiments``:
Kendall-tau sweeps, searches over a table) sit above it, and the zoo core does not import it.
"""
from .model import FiguresNet, ReNASNet, pairwise_agreement, pairwise_logistic_loss
from .predictor import PredictorFileError, RelativisticPredictor, FitConfig
from .spaces import FEATURE_SETS, GRAPH_SET, SPACES, FeatureError, get_space, parse_features
from .tables import Table, TableError

__all__ = ['ReNASNet', 'FiguresNet', 'GRAPH_SET', 'pairwise_logistic_loss', 'pairwise_agreement', 'RelativisticPredictor', 'FitConfig',
           'PredictorFileError', 'FEATURE_SETS', 'SPACES', 'FeatureError', 'get_space', 'parse_features', 'Table',
           'TableError']
