"""Fitting rating plans: Poisson frequency and Gamma severity GLMs (glum), holdout metrics."""
