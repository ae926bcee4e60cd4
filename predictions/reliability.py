"""Reliability math. Pure: no Django, no I/O; times in hours.

Weibull reliability (survival) function, scale η (hours) and shape β:

    R(t) = exp(-(t / η) ** β)        t ≥ 0 hours since maintenance restored the asset

Conditional reliability of a unit that has already survived T hours (its age), for a
mission up to age t > T hours (Nelson, *Applied Life Data Analysis*, ch. 2):

    R(t | T) = R(t) / R(T) = exp(-((t / η) ** β - (T / η) ** β))

computed from the difference of the exponents, so it stays exact when both R are tiny.

Without Weibull parameters the reliability is the product of per-operation default
reliabilities (the request's, else the stored AFT ↔ maintenance-list defaults; 1.0 when
none). Every result is clamped to [0, 1] and rounded to 6 decimals.
"""

import math
from collections.abc import Iterable

DECIMALS = 6


def clamp_round(value: float) -> float:
    """Clamp to [0, 1] and round to 6 decimals; NaN is refused."""
    if math.isnan(value):
        raise ValueError("reliability is NaN")
    return round(min(1.0, max(0.0, value)), DECIMALS)


def weibull_reliability(t_hours: float, *, eta_hours: float, beta: float) -> float:
    """R(t) = exp(-(t/η)^β): probability of surviving t hours; η, β > 0, t ≥ 0."""
    if eta_hours <= 0 or beta <= 0:
        raise ValueError(f"Weibull parameters must be positive (η={eta_hours}, β={beta})")
    if t_hours <= 0:
        return 1.0
    return math.exp(-((t_hours / eta_hours) ** beta))


def weibull_conditional_reliability(
    *, age_hours: float, target_age_hours: float, eta_hours: float, beta: float
) -> float:
    """R(target | age) = R(target_age_hours) / R(age_hours): survive to `target_age_hours`.

    Both are ages in hours since maintenance; 1.0 when `target_age_hours` ≤ `age_hours`
    (nothing left to survive). Negative ages count as 0 (a new unit).
    """
    if eta_hours <= 0 or beta <= 0:
        raise ValueError(f"Weibull parameters must be positive (η={eta_hours}, β={beta})")
    age = max(0.0, age_hours)
    target = max(0.0, target_age_hours)
    if target <= age:
        return 1.0
    exponent = (target / eta_hours) ** beta - (age / eta_hours) ** beta
    return math.exp(-exponent)


def product(values: Iterable[float]) -> float:
    """Product of reliabilities (independent series elements); 1.0 for none."""
    return math.prod(values)


def predict_reliability(
    *,
    horizon_hours: float,
    eta_hours: float | None = None,
    beta: float | None = None,
    default_reliability: Iterable[float] | None = None,
    stored_defaults: Iterable[float] = (),
) -> float:
    """The predicted reliability at the horizon, from the best source available.

    1. Weibull R(horizon_hours) when both η (hours) and β are given;
    2. else the product of the request's `default_reliability` values;
    3. else the product of the stored AFT ↔ maintenance-list defaults (1.0 when none).
    """
    if eta_hours is not None and beta is not None:
        value = weibull_reliability(horizon_hours, eta_hours=eta_hours, beta=beta)
    elif default_reliability is not None:
        value = product(default_reliability)
    else:
        value = product(stored_defaults)
    return clamp_round(value)
