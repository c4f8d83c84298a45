"""Features per robot and rating period, from hourly rollups and events, with polars.

``state`` folds new rows into incremental per-robot sufficient statistics (sums, maxima, minima:
every merge is associative); ``rating`` turns a state into the rating features.
"""
