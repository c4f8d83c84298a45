"""Chain ladder and Mack's standard errors (cloud_api.reports.reserving) against the chainladder
package, the reference: on the RAA triangle (total IBNR 52,135; total standard error 26,909,
as R's ChainLadder gives) and on random triangles of other shapes, every accident period's
ultimate, IBNR and standard error."""

from __future__ import annotations

import chainladder as cl
import numpy as np
import pandas as pd
import pytest

from cloud_api.reports.reserving import chain_ladder

# chainladder 0.10 parses its origin dates in a way pandas 3 deprecates: its warning, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:Parsing integer or float values with a format")


def reference(triangle: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(IBNR, standard errors, total standard error) by the chainladder package."""
    n_rows, n_dev = triangle.shape
    rows = [
        {"origin": f"{2000 + i}-01-01", "development": f"{2000 + i + k}-01-01", "value": v}
        for i in range(n_rows)
        for k in range(n_dev)
        if not np.isnan(v := triangle[i, k])
    ]
    frame = pd.DataFrame(rows)
    made = cl.Triangle(
        frame, origin="origin", development="development", columns="value", cumulative=True
    )
    developed = cl.Development(sigma_interpolation="mack").fit_transform(made)
    mack = cl.MackChainladder().fit(developed)
    ibnr = np.nan_to_num(mack.ibnr_.values[0, 0, :, 0])
    std_err = np.nan_to_num(mack.summary_.to_frame().iloc[:, 3].to_numpy(dtype=float))
    return ibnr, std_err, float(mack.total_mack_std_err_.values.ravel()[0])


def test_the_raa_triangle() -> None:
    raa = cl.load_sample("raa").values[0, 0]
    reserve = chain_ladder(raa)
    assert round(reserve.total_ibnr) == 52_135
    assert round(reserve.total_std_err) == 26_909
    ibnr, std_err, total = reference(raa)
    np.testing.assert_allclose(reserve.ibnr, ibnr, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(reserve.std_err, std_err, rtol=1e-9, atol=1e-6)
    assert reserve.total_std_err == pytest.approx(total, rel=1e-9)


@pytest.mark.parametrize("size", [4, 7, 12])
def test_random_triangles_agree_with_the_reference(size: int) -> None:
    rng = np.random.default_rng(size)
    incremental = rng.gamma(2.0, 1000.0, (size, size)) * np.linspace(1.0, 0.1, size)
    cumulative = np.cumsum(incremental, axis=1)
    for i in range(size):
        cumulative[i, size - i :] = np.nan  # the future of each accident period
    reserve = chain_ladder(cumulative)
    ibnr, std_err, total = reference(cumulative)
    np.testing.assert_allclose(reserve.ibnr, ibnr, rtol=1e-8, atol=1e-6)
    np.testing.assert_allclose(reserve.std_err, std_err, rtol=1e-8, atol=1e-6)
    assert reserve.total_std_err == pytest.approx(total, rel=1e-8)
    assert reserve.ibnr[0] == 0.0  # the oldest period is fully developed


def test_a_triangle_of_one_development_period_is_refused() -> None:
    with pytest.raises(ValueError, match="two development periods"):
        chain_ladder(np.array([[1.0], [2.0]]))
