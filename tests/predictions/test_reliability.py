"""predictions.reliability: pure math, no database."""

import math

import pytest

from predictions import reliability


def test_weibull_matches_hand_computed_values():
    # exp(-(168/1000)^1.5) = exp(-0.0688577...) = 0.933458
    assert reliability.weibull_reliability(168, eta_hours=1000, beta=1.5) == pytest.approx(
        0.9334578131506648
    )
    # exp(-(168/500)^2) = exp(-0.112896) = 0.893244
    assert reliability.weibull_reliability(168, eta_hours=500, beta=2) == pytest.approx(
        0.8932435526149938
    )


def test_weibull_at_eta_is_exp_minus_one_for_any_shape():
    for beta in (0.5, 1, 3.7):
        assert reliability.weibull_reliability(1000, eta_hours=1000, beta=beta) == pytest.approx(
            math.exp(-1)
        )


def test_weibull_is_one_at_time_zero_and_refuses_bad_parameters():
    assert reliability.weibull_reliability(0, eta_hours=10, beta=2) == 1.0
    with pytest.raises(ValueError, match="positive"):
        reliability.weibull_reliability(1, eta_hours=0, beta=2)
    with pytest.raises(ValueError, match="positive"):
        reliability.weibull_reliability(1, eta_hours=10, beta=-1)


def test_prediction_prefers_weibull_then_request_defaults_then_stored_defaults():
    kwargs = {"horizon_hours": 168, "default_reliability": [0.9], "stored_defaults": [0.5]}
    assert reliability.predict_reliability(eta_hours=1000, beta=1.5, **kwargs) == 0.933458
    assert reliability.predict_reliability(**kwargs) == 0.9
    assert reliability.predict_reliability(horizon_hours=168, stored_defaults=[0.5, 0.8]) == 0.4
    assert reliability.predict_reliability(horizon_hours=168) == 1.0


def test_eta_without_beta_is_not_a_weibull_model():
    assert (
        reliability.predict_reliability(horizon_hours=168, eta_hours=10, default_reliability=[0.7])
        == 0.7
    )


def test_defaults_multiply_and_round_to_six_decimals():
    assert (
        reliability.predict_reliability(horizon_hours=1, default_reliability=[0.9, 0.8, 0.95])
        == 0.684
    )
    assert reliability.predict_reliability(horizon_hours=1, default_reliability=[1 / 3]) == 0.333333


def test_clamp_round_keeps_results_in_the_unit_interval():
    assert reliability.clamp_round(1.0000001) == 1.0
    assert reliability.clamp_round(-1e-9) == 0.0
    with pytest.raises(ValueError):
        reliability.clamp_round(float("nan"))


def test_the_module_imports_no_django():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(reliability))
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"math", "collections"}
