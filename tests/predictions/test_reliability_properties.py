"""predictions.reliability against published values and SciPy's weibull_min (no database)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from predictions import reliability

HOURS_PER_YEAR = 8766.0  # 365.25 days
# Examples are not saved (database=None): no .hypothesis folder in the work tree.


def test_it_gives_nelsons_reference_values_for_a_new_and_an_aged_unit():
    # Nelson, Applied Life Data Analysis, ch. 2: Weibull β = 2, η = 13 years.
    eta_hours = 13 * HOURS_PER_YEAR
    new = reliability.weibull_reliability(2 * HOURS_PER_YEAR, eta_hours=eta_hours, beta=2)
    assert round(new, 3) == 0.977
    # A unit aged 6.5 years surviving 2 more years: R(8.5 y) / R(6.5 y).
    aged = reliability.weibull_conditional_reliability(
        age_hours=6.5 * HOURS_PER_YEAR,
        target_age_hours=8.5 * HOURS_PER_YEAR,
        eta_hours=eta_hours,
        beta=2,
    )
    assert round(aged, 3) == 0.837


def test_conditional_reliability_is_one_when_nothing_is_left_to_survive():
    kwargs = {"eta_hours": 1000.0, "beta": 2.0}
    assert reliability.weibull_conditional_reliability(
        age_hours=500, target_age_hours=168, **kwargs
    ) == (1.0)
    assert reliability.weibull_conditional_reliability(
        age_hours=168, target_age_hours=168, **kwargs
    ) == (1.0)


def test_conditional_reliability_of_a_new_unit_is_its_reliability():
    for age in (0.0, -5.0):  # a negative age (source_sys_time before maintenance) is new
        assert reliability.weibull_conditional_reliability(
            age_hours=age, target_age_hours=168, eta_hours=1000, beta=1.5
        ) == pytest.approx(reliability.weibull_reliability(168, eta_hours=1000, beta=1.5))


def test_conditional_reliability_refuses_bad_parameters():
    with pytest.raises(ValueError, match="positive"):
        reliability.weibull_conditional_reliability(
            age_hours=1, target_age_hours=2, eta_hours=0, beta=1
        )


def test_conditional_reliability_stays_exact_where_both_reliabilities_underflow():
    # R(3000 h) and R(3001 h) with η = 10 h are 0.0 in floating point; their ratio is not.
    value = reliability.weibull_conditional_reliability(
        age_hours=3000, target_age_hours=3001, eta_hours=10, beta=1
    )
    assert value == pytest.approx(math.exp(-0.1))


positive_hours = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)
shapes = st.floats(min_value=0.2, max_value=8.0, allow_nan=False)


@settings(max_examples=300, deadline=None, database=None)
@given(t=positive_hours, eta=positive_hours, beta=shapes)
def test_reliability_matches_scipy_weibull_min_sf(t, eta, beta):
    expected = stats.weibull_min.sf(t, beta, scale=eta)
    assert reliability.weibull_reliability(t, eta_hours=eta, beta=beta) == pytest.approx(
        expected, rel=1e-9, abs=1e-300
    )


@settings(max_examples=300, deadline=None, database=None)
@given(age=positive_hours, extra=positive_hours, eta=positive_hours, beta=shapes)
def test_conditional_reliability_matches_scipy_survival_ratio(age, extra, eta, beta):
    target = age + extra
    sf_age = stats.weibull_min.sf(age, beta, scale=eta)
    value = reliability.weibull_conditional_reliability(
        age_hours=age, target_age_hours=target, eta_hours=eta, beta=beta
    )
    assert 0.0 <= value <= 1.0
    if sf_age > 1e-200:  # where SciPy's own ratio is still meaningful
        expected = stats.weibull_min.sf(target, beta, scale=eta) / sf_age
        assert value == pytest.approx(expected, rel=1e-7, abs=1e-12)


@settings(max_examples=200, deadline=None, database=None)
@given(age=positive_hours, a=positive_hours, b=positive_hours, eta=positive_hours, beta=shapes)
def test_conditional_reliability_falls_as_the_target_age_grows(age, a, b, eta, beta):
    near, far = sorted((a, b))
    r_near = reliability.weibull_conditional_reliability(
        age_hours=age, target_age_hours=age + near, eta_hours=eta, beta=beta
    )
    r_far = reliability.weibull_conditional_reliability(
        age_hours=age, target_age_hours=age + far, eta_hours=eta, beta=beta
    )
    assert r_far <= r_near


@settings(max_examples=200, deadline=None, database=None)
@given(t=positive_hours, eta=positive_hours, beta=shapes)
def test_predicted_reliability_is_scipys_sf_clamped_and_rounded(t, eta, beta):
    expected = round(float(stats.weibull_min.sf(t, beta, scale=eta)), 6)
    value = reliability.predict_reliability(horizon_hours=t, eta_hours=eta, beta=beta)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(expected, abs=1.01e-6)
