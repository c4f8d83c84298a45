"""Products: versioned coverages, limits, deductibles, aggregates and premium tax, as data."""
