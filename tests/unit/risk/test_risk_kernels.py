"""Kernels against hand-worked examples and independent references."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm  # type: ignore[import-untyped]

from risk_engine.kernels import credibility, explain, lorenz, pricing, rating
from risk_engine.kernels.deviance import gamma_deviance, poisson_deviance


def test_bands_follow_their_breaks() -> None:
    values = np.array([-1.0, 0.0, 0.5, 1.0, 30.0, 100.0])
    out = rating.banded_log_relativity(values, np.array([1.0, 30.0]), np.array([0.0, 0.1, 0.3]))
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.0, 0.1, 0.3, 0.3])


def test_continuous_factor_is_one_at_its_reference_and_clipped() -> None:
    values = np.array([2.0, 3.0, 100.0])
    out = rating.continuous_log_relativity(values, 0.5, reference=2.0, upper=10.0)
    np.testing.assert_allclose(out, [0.0, 0.5, 4.0])
    logged = rating.continuous_log_relativity(values, 2.0, transform="log1p", lower=0.0)
    np.testing.assert_allclose(logged, 2.0 * np.log1p(values))


def test_unknown_levels_rate_as_the_base() -> None:
    out = rating.categorical_log_relativity(np.array([0, 1, -1]), np.array([0.2, -0.1]))
    np.testing.assert_allclose(out, [0.2, -0.1, 0.0])


def test_cap_and_minimum_hand_worked() -> None:
    # In force 1,000 with a +-25 % cap: 1,300 is held to 1,250, 600 to 750, 1,100 passes;
    # a minimum premium of 800 takes precedence over the cap's 750.
    technical = np.array([1300.0, 600.0, 1100.0, 600.0])
    reference = np.array([1000.0, 1000.0, 1000.0, 1000.0])
    capped = pricing.capped_premium(technical, reference, 0.0, 0.25, 0.25)
    np.testing.assert_allclose(capped, [1250.0, 750.0, 1100.0, 750.0])
    floored = pricing.capped_premium(technical, reference, 800.0, 0.25, 0.25)
    np.testing.assert_allclose(floored, [1250.0, 800.0, 1100.0, 800.0])


def test_loadings_gross_up_hand_worked() -> None:
    # 1,000 pure x 1.03 / (1 - 0.25 - 0.05) = 1,471.43
    multiplier = pricing.loading_multiplier(0.25, 0.05, 0.03)
    assert pricing.technical_premium(np.array([1000.0]), multiplier)[0] == pytest.approx(
        1471.4285714
    )
    with pytest.raises(ValueError, match="nothing for losses"):
        pricing.loading_multiplier(0.8, 0.3, 0.0)


def test_pure_premium_and_projected_hours() -> None:
    # 0.1 claims per 1,000 h x 10,000 per claim x 4,000 h = 4,000 a year.
    assert pricing.pure_premium(np.array([0.1]), np.array([1e4]), np.array([4000.0]))[0] == 4000
    # 300 h in 720 h, prior 168 h at 4,000/8,760: 8,760 x (300 + 76.71) / 888 = 3,720.7 h
    hours = pricing.projected_annual_hours(
        np.array([300.0, 0.0]), np.array([720.0, 720.0]), 4000.0 / 8760, 168.0, 1000.0
    )
    assert hours[0] == pytest.approx(8760 * (300 + 4000 / 8760 * 168) / 888)
    assert hours[1] == 1000.0  # the prior alone gives 756.8 h: the floor holds


def test_buhlmann_straub_hand_worked() -> None:
    # Two risks, two periods, unit weights: X = [[1, 3], [5, 7]].
    # EPV = (1 + 1 + 1 + 1) / 2 = 2; between = 2*4 + 2*4 = 16; VHM = (16 - 2) / (4 - 2) = 7.
    group = np.array([0, 0, 1, 1])
    value = np.array([1.0, 3.0, 5.0, 7.0])
    params = credibility.buhlmann_straub(group, value, np.ones(4))
    assert params.mean == pytest.approx(4.0)
    assert params.expected_process_variance == pytest.approx(2.0)
    assert params.variance_of_hypothetical_means == pytest.approx(7.0)
    assert params.k == pytest.approx(2.0 / 7.0)
    assert credibility.credibility_weight(np.array([2.0]), params.k)[0] == pytest.approx(0.875)


def test_buhlmann_straub_with_weights_matches_a_plain_reference() -> None:
    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(6), 4)
    weight = rng.uniform(0.5, 3.0, group.size)
    value = rng.gamma(2.0, 0.5, group.size) + group * 0.1
    params = credibility.buhlmann_straub(group, value, weight)
    # Bühlmann & Gisler's formulas written out loop by loop.
    means, totals, within = [], [], 0.0
    for risk in range(6):
        w, x = weight[group == risk], value[group == risk]
        means.append(float((w * x).sum() / w.sum()))
        totals.append(float(w.sum()))
        within += float((w * (x - means[-1]) ** 2).sum())
    epv = within / (6 * 3)
    m = sum(totals)
    x_bar = sum(t * mu for t, mu in zip(totals, means, strict=True)) / m
    between = sum(t * (mu - x_bar) ** 2 for t, mu in zip(totals, means, strict=True))
    vhm = (between - 5 * epv) / (m - sum(t * t for t in totals) / m)
    assert params.expected_process_variance == pytest.approx(epv)
    assert params.variance_of_hypothetical_means == pytest.approx(vhm)


def test_buhlmann_straub_needs_repeated_observations() -> None:
    with pytest.raises(ValueError, match="two risks"):
        credibility.buhlmann_straub(np.array([0, 1]), np.array([1.0, 2.0]), np.ones(2))
    none = credibility.StructuralParameters(1.0, 2.0, -0.5)
    assert none.k == float("inf")
    assert credibility.credibility_weight(np.array([5.0]), none.k)[0] == 0.0


def test_experience_modification_hand_worked() -> None:
    # 3 claims where 2 were expected, k = 2: Z = 0.5, mod = 0.5 x 1.5 + 0.5 = 1.25.
    z, mod = credibility.experience_modification(np.array([3.0, 0.0]), np.array([2.0, 0.0]), 2.0)
    np.testing.assert_allclose(z, [0.5, 0.0])
    np.testing.assert_allclose(mod, [1.25, 1.0])


def test_top_reasons_match_a_plain_sort() -> None:
    rng = np.random.default_rng(5)
    current, previous = rng.normal(size=(200, 9)), rng.normal(size=(200, 9))
    indices, deltas = explain.top_reasons(current, previous, 4)
    for row in range(200):
        change = current[row] - previous[row]
        expected = [int(i) for i in np.argsort(-change, kind="stable")[:4] if change[i] > 1e-9]
        got = [int(i) for i in indices[row] if i >= 0]
        assert got == expected
        np.testing.assert_allclose(deltas[row, : len(got)], change[expected])


def test_top_reasons_pads_when_few_contributions_rose() -> None:
    indices, deltas = explain.top_reasons(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]), 4)
    assert indices.tolist() == [[0, -1, -1, -1]]
    assert deltas.tolist() == [[1.0, 0.0, 0.0, 0.0]]


def test_gini_hand_worked_and_bounds() -> None:
    # Sorted by prediction: exposure shares 0, .5, 1; claim shares 0, 0, 1: area .25, Gini .5.
    gini = lorenz.gini_index(np.array([1.0, 2.0]), np.array([0.0, 1.0]), np.ones(2))
    assert gini == pytest.approx(0.5)
    reverse = lorenz.gini_index(np.array([2.0, 1.0]), np.array([0.0, 1.0]), np.ones(2))
    assert reverse == pytest.approx(-0.5)


def test_deviances_match_statsmodels() -> None:
    rng = np.random.default_rng(2)
    mu = rng.uniform(0.1, 3.0, 100)
    y = rng.poisson(mu).astype(np.float64)
    assert poisson_deviance(y, mu) == pytest.approx(sm.families.Poisson().deviance(y, mu))
    amounts = rng.gamma(2.0, mu)
    weights = rng.uniform(1, 3, 100)
    expected = sm.families.Gamma().deviance(amounts, mu, var_weights=weights)
    assert gamma_deviance(amounts, mu, weights) == pytest.approx(expected)


def _plain_top(change: np.ndarray, count: int) -> list[int]:
    return [int(i) for i in np.argsort(-change, kind="stable")[:count] if change[i] > 1e-9]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("columns", [1, 3, 4, 9, 15])
def test_top_reasons_match_a_plain_sort_across_blocks_layouts_and_ties(
    count: int, columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small blocks, so that several blocks and a partial last one are exercised; column-major
    # current and row-major previous, as score_fleet passes them; exact ties between columns
    # (eighths: every change exact).
    monkeypatch.setattr(explain, "BLOCK", 64)
    rng = np.random.default_rng(count * 100 + columns)
    rows = 300
    current = np.asfortranarray(rng.integers(-8, 9, size=(rows, columns)) / 8.0)
    previous = rng.integers(-8, 9, size=(rows, columns)) / 8.0
    new = rng.random(rows) < 0.3
    carried = columns - 1
    indices, deltas = explain.top_reasons(current, previous, count, new=new, carried_column=carried)
    assert indices.shape == deltas.shape == (rows, count)
    for row in range(rows):
        compared = np.zeros(columns) if new[row] else previous[row]
        if new[row]:
            compared[carried] = current[row, carried]
        change = current[row] - compared
        expected = _plain_top(change, count)
        got = [int(i) for i in indices[row] if i >= 0]
        assert got == expected
        assert list(indices[row, len(got) :]) == [explain.NO_REASON] * (count - len(got))
        np.testing.assert_allclose(deltas[row, : len(got)], change[expected], atol=1e-11)
        assert not deltas[row, len(got) :].any()


def test_top_reasons_refuse_what_they_cannot_pack() -> None:
    with pytest.raises(ValueError, match="at most 64"):
        explain.top_reasons(np.zeros((1, 65)), np.zeros((1, 65)))
    with pytest.raises(ValueError, match="tolerance"):
        explain.top_reasons(np.zeros((1, 2)), np.zeros((1, 2)), tolerance=-1.0)


def test_top_reasons_ignore_nan_and_clip_huge_changes() -> None:
    current = np.array([[np.nan, 5000.0, 2000.0, 0.5]])
    indices, deltas = explain.top_reasons(current, np.zeros((1, 4)), 4)
    # Both huge changes are clipped to 1000 (a tie: the first column first); NaN is no reason.
    assert indices.tolist() == [[1, 2, 3, -1]]
    assert deltas.tolist() == [[1000.0, 1000.0, 0.5, 0.0]]


def test_factor_kernels_write_into_a_given_buffer() -> None:
    values = np.array([0.0, 1.0, 29.9, 30.0, 95.0, np.nan])
    breaks, relativities = np.array([1.0, 30.0, 90.0]), np.array([0.0, 0.1, 0.25, 0.45])
    out = np.full(6, 7.0)
    banded = rating.banded_log_relativity(values, breaks, relativities, out=out)
    assert banded is out
    # As a binary search places them: NaN in the last band.
    expected = relativities[np.searchsorted(breaks, values, side="right")]
    assert out.tolist() == expected.tolist() == [0.0, 0.1, 0.1, 0.25, 0.45, 0.45]
    buffer = np.array([0.0, 3.0, 100.0])
    same = rating.continuous_log_relativity(
        buffer, 2.0, transform="log1p", upper=10.0, reference=1.0, out=buffer
    )
    assert same is buffer
    np.testing.assert_allclose(buffer, 2.0 * (np.log1p([0.0, 3.0, 10.0]) - np.log1p(1.0)))


def test_projected_hours_never_exceed_the_hours_of_a_year() -> None:
    """Reports of more operating hours than calendar hours (a counter reset, a clock gone wrong,
    data from before the recorded commissioning) must not project past 8760 hours a year."""
    hours = pricing.projected_annual_hours(
        exposure_h=np.array([24.0, 240.0, 0.0]),
        elapsed_h=np.array([1.0, 24.0, 24.0]),
        prior_utilisation=4000.0 / 8760,
        prior_hours=0.0,
        minimum_hours=500.0,
    )
    np.testing.assert_allclose(hours, [8760.0, 8760.0, 500.0])
