"""The starter plan's rate priors and class utilisation, fitted on a simulated book.

``python -m risk_engine.plans.starter_priors`` refits them (a book of ``BOOK_ROBOTS`` robots of
riskiness uniform on 0..1, periods of 1, 3, 7 and 30 days, fixed seeds) and writes
``starter_priors.json`` beside this file, which ``default.starter_plan`` reads; a test checks
that the file is what this fit gives.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from risk_engine.calibration import SimulatedFleet, simulated_book, uniform_riskiness
from risk_engine.fitting.priors import credible_rate_features, fit_priors

PRIORS_FILE = Path(__file__).with_name("starter_priors.json")
BOOK_ROBOTS = 2000
BOOK_SEED = 3


def fit_starter_priors() -> dict[str, Any]:
    """The priors and utilisation, as ``starter_priors.json`` holds them."""
    from risk_engine.plans.default import starter_plan

    plan = starter_plan(datetime(2026, 1, 1, tzinfo=UTC), with_priors=False)
    fleet = SimulatedFleet.draw(BOOK_ROBOTS, seed=BOOK_SEED, riskiness=uniform_riskiness)
    book = simulated_book(fleet, seed=BOOK_SEED)
    variables = [factor.variable for factor in plan.factors]
    fitted = fit_priors(book, credible_rate_features(variables), plan.robot_classes)
    return {
        "rate_priors": [prior.model_dump() for prior in fitted.priors],
        "class_utilisation": fitted.class_utilisation,
        "book": {"robots": BOOK_ROBOTS, "seed": BOOK_SEED, "rows": book.height},
    }


def main() -> None:
    PRIORS_FILE.write_text(json.dumps(fit_starter_priors(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
