"""Mixed-effects model of robust accuracy (statsmodels MixedLM).

``robust_accuracy ~ C(intermediate, Treatment("none")) * C(attack)`` with a
random intercept per **language** and a variance component per **seed run**
(intermediate x seed) within language.

Why these are random: intermediate task and attack are the treatments the
question is about, so they are fixed effects. Languages are a sample from the
population of target languages the conclusions should reach beyond, and their
baseline difficulty differs a lot; seeds are exchangeable replicates of
training randomness, and the evaluations of one trained run in one language
under several attacks share that run's noise, so they are not independent
observations. Treating either as fixed would understate the uncertainty of the
intermediate effects.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class MixedResult:
    """Fixed effects (coef, se, z, p, CI) and variance components, or why the fit failed."""

    fixed: pd.DataFrame
    variances: dict[str, float] = field(default_factory=dict)
    n_obs: int = 0
    converged: bool = False
    note: str = ""


def fit_mixed(robust: pd.DataFrame, *, baseline: str = "none", max_obs: int = 3_000, rng: int = 0) -> MixedResult:
    """Fits the model on per-seed robust accuracy of one target.

    Args:
        robust: columns ``intermediate, language, attack, seed, value``.
        max_obs: above this many rows, whole languages are sampled (seeded)
            to keep the fit within seconds; the note says so.
    """
    import statsmodels.formula.api as smf

    data = robust[["intermediate", "language", "attack", "seed", "value"]].dropna().copy()
    empty = pd.DataFrame(columns=["term", "coef", "se", "z", "p", "ci_low", "ci_high"])
    if data["language"].nunique() < 2 or baseline not in set(data["intermediate"]) or data["intermediate"].nunique() < 2:
        return MixedResult(empty, note="needs the baseline, another intermediate and two languages")
    note = ""
    if len(data) > max_obs:
        langs = sorted(data["language"].unique())
        per_lang = len(data) / len(langs)
        keep = max(2, int(max_obs // per_lang))
        chosen = sorted(np.random.default_rng(rng).choice(langs, size=min(keep, len(langs)), replace=False))
        data = data[data["language"].isin(chosen)]
        note = f"fitted on {len(chosen)} of {len(langs)} languages (seeded sample) to bound the fit time"
    data["run"] = data["intermediate"].astype(str) + ":" + data["seed"].astype(str)
    data["value"] = data["value"] * 100.0  # points
    formula = f"value ~ C(intermediate, Treatment({baseline!r})) * C(attack)"
    model = smf.mixedlm(formula, data, groups="language", re_formula="1", vc_formula={"run": "0 + C(run)"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = model.fit(reml=True, method=["lbfgs"], maxiter=200)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return MixedResult(empty, n_obs=len(data), note=f"fit failed: {exc}")
    ci = fit.conf_int()
    names = [n for n in fit.fe_params.index]
    fixed = pd.DataFrame(
        {
            "term": [_pretty(n, baseline) for n in names],
            "coef": fit.fe_params.to_numpy(),
            "se": fit.bse_fe.to_numpy(),
            "z": (fit.fe_params / fit.bse_fe).to_numpy(),
            "p": fit.pvalues[names].to_numpy(),
            "ci_low": ci.loc[names, 0].to_numpy(),
            "ci_high": ci.loc[names, 1].to_numpy(),
        }
    )
    variances = {"language": float(fit.cov_re.iloc[0, 0]), "seed run (within language)": float(fit.vcomp[0]), "residual": float(fit.scale)}
    return MixedResult(fixed, variances, n_obs=len(data), converged=bool(fit.converged), note=note)


def _pretty(name: str, baseline: str) -> str:
    return (
        name.replace(f"C(intermediate, Treatment({baseline!r}))[T.", "intermediate=")
        .replace("C(attack)[T.", "attack=")
        .replace("]", "")
    )


__all__ = ["MixedResult", "fit_mixed"]
