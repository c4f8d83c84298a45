"""The risk engine: telemetry features, rating plans, vectorized scoring and premiums."""
