"""Experiments on benchmark tables, above both the predictor and the search: how well predictors rank
(Kendall's tau sweeps, ``ranking``), searches over a table (random, REA, slow-fast with and without the
search's pair decider, ``table_search``), and the worker pool they share (``workers``). The ``predictor
bench`` and ``predictor search-bench`` commands (``cli``)."""
