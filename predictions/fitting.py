"""Two-parameter Weibull fitted by maximum likelihood, with right censoring. No Django.

Data are durations in hours since the maintenance that restored the asset: a *failure* is
the time to failure, a *censored* value is a survival time of a unit that had not failed
when it was last seen. With f the density and R the reliability (survival) function,

    log L(η, β) = Σ_failures log f(t_i; η, β) + Σ_censored log R(c_j; η, β)

is maximised by SciPy (`scipy.stats.weibull_min.fit` with `CensoredData`, location fixed
at 0). Confidence bounds come from the observed information matrix (the Hessian of
−log L, by `scipy.differentiate.hessian`) in (log η, log β), so the bounds stay positive:
η · exp(±z · se(log η)), β · exp(±z · se(log β)) (Meeker & Escobar, ch. 8).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.differentiate import hessian

# A fit from fewer failures than this is not trusted: with 5 failures the 95 % bounds
# on β typically span a factor of ~3, which is as wide as is still useful to a planner.
MIN_FAILURES = 5
CONFIDENCE_LEVEL = 0.95


class FitRefused(ValueError):
    """The data cannot give a trustworthy fit (too few failures, or degenerate data)."""


@dataclass(frozen=True, slots=True)
class WeibullFitResult:
    """A fitted Weibull: η in hours, β, the data's size, log-likelihood and confidence bounds."""

    eta_hours: float
    beta: float
    n_failures: int
    n_censored: int
    log_likelihood: float
    confidence_level: float
    eta_lower_hours: float | None
    eta_upper_hours: float | None
    beta_lower: float | None
    beta_upper: float | None


def weibull_log_likelihood(
    *,
    failure_hours: Sequence[float],
    censored_hours: Sequence[float] = (),
    eta_hours: float,
    beta: float,
) -> float:
    """log L = Σ log f(failures) + Σ log R(censored), Weibull with scale η hours, shape β."""
    failures = np.asarray(failure_hours, dtype=float)
    censored = np.asarray(censored_hours, dtype=float)
    return float(
        stats.weibull_min.logpdf(failures, beta, scale=eta_hours).sum()
        + stats.weibull_min.logsf(censored, beta, scale=eta_hours).sum()
    )


def _check(values: np.ndarray, name: str) -> None:
    """Refuse non-finite or non-positive durations."""
    if values.size and not (np.all(np.isfinite(values)) and np.all(values > 0)):
        raise FitRefused(f"{name} must be finite and > 0 hours")


def weibull_fit(
    *,
    failure_hours: Sequence[float],
    censored_hours: Sequence[float] = (),
    min_failures: int = MIN_FAILURES,
    confidence_level: float = CONFIDENCE_LEVEL,
) -> WeibullFitResult:
    """Maximum-likelihood η (hours) and β from failure and right-censored survival hours.

    Raises FitRefused with fewer than `min_failures` failures, when all failure times are
    equal (β would be infinite), or when the optimiser gives no finite answer.
    """
    failures = np.asarray(failure_hours, dtype=float)
    censored = np.asarray(censored_hours, dtype=float)
    _check(failures, "failure durations")
    _check(censored, "censored durations")
    if failures.size < max(min_failures, 2):
        raise FitRefused(
            f"{failures.size} failures; at least {max(min_failures, 2)} are needed for a fit"
        )
    if np.ptp(failures) == 0:
        raise FitRefused("all failure durations are equal; the shape β cannot be estimated")
    # Work in units of the largest duration: the optimiser behaves the same for any unit.
    unit = float(max(failures.max(), censored.max() if censored.size else 0.0))
    data: np.ndarray | stats.CensoredData = failures / unit
    if censored.size:
        data = stats.CensoredData(uncensored=failures / unit, right=censored / unit)
    beta, _loc, scale = stats.weibull_min.fit(data, floc=0)
    eta_hours = float(scale) * unit
    beta = float(beta)
    if not (math.isfinite(eta_hours) and math.isfinite(beta) and eta_hours > 0 and beta > 0):
        raise FitRefused(f"the fit did not converge (η={eta_hours}, β={beta})")
    log_likelihood = weibull_log_likelihood(
        failure_hours=failures, censored_hours=censored, eta_hours=eta_hours, beta=beta
    )
    bounds = _wald_bounds(
        failures=failures / unit,
        censored=censored / unit,
        eta=eta_hours / unit,
        beta=beta,
        confidence_level=confidence_level,
    )
    eta_lower, eta_upper, beta_lower, beta_upper = bounds or (None, None, None, None)
    return WeibullFitResult(
        eta_hours=eta_hours,
        beta=beta,
        n_failures=int(failures.size),
        n_censored=int(censored.size),
        log_likelihood=log_likelihood,
        confidence_level=confidence_level,
        eta_lower_hours=eta_lower * unit if eta_lower is not None else None,
        eta_upper_hours=eta_upper * unit if eta_upper is not None else None,
        beta_lower=beta_lower,
        beta_upper=beta_upper,
    )


def _wald_bounds(
    *,
    failures: np.ndarray,
    censored: np.ndarray,
    eta: float,
    beta: float,
    confidence_level: float,
) -> tuple[float, float, float, float] | None:
    """Two-sided bounds on η and β from the observed information in (log η, log β).

    None when the information matrix is not positive definite (a flat likelihood).
    """

    def negative_log_likelihood(x: np.ndarray) -> np.ndarray:
        # x has shape (2, ...) with any trailing shape: scipy evaluates many points at once.
        scale = np.exp(x[0])[..., np.newaxis]
        shape = np.exp(x[1])[..., np.newaxis]
        value = -stats.weibull_min.logpdf(failures, shape, scale=scale).sum(axis=-1)
        if censored.size:
            value = value - stats.weibull_min.logsf(censored, shape, scale=scale).sum(axis=-1)
        return value

    result = hessian(negative_log_likelihood, np.array([math.log(eta), math.log(beta)]))
    information = np.asarray(result.ddf, dtype=float)
    if not np.all(np.isfinite(information)):
        return None
    try:
        np.linalg.cholesky(information)
    except np.linalg.LinAlgError:
        return None
    covariance = np.linalg.inv(information)
    z = float(stats.norm.ppf(0.5 + confidence_level / 2))
    se_log_eta, se_log_beta = np.sqrt(np.diag(covariance))
    return (
        eta * math.exp(-z * se_log_eta),
        eta * math.exp(z * se_log_eta),
        beta * math.exp(-z * se_log_beta),
        beta * math.exp(z * se_log_beta),
    )
