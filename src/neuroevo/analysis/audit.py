"""The prior-work audit: each claim of the four write-ups (config/audit/prior-work-claims.yaml) put
to the pipeline's own runs, with the tests of the rest of the report, and given one verdict:

- **confirmed** / **refuted**: a test that could reach significance did (Holm within the
  claim's comparisons, alpha from the config), never by a comparison that could not;
- **inconclusive**: the runs were made but decide neither way (the reason says why);
- **untestable as published**: the claim as written cannot be tested (the reason says why),
  with what the runs show beside it;
- **not run**: its data are missing here (the reason says what).

A claim names the runs it is about by a selection: the main runs (`runs`: dataset and
optimizer, the early-stopping arm, the write-ups' protocol), a study's variant (`study`,
`variant`) or a discovery comparison's label on a task (`discovery`, `task`, `label`), and
a metric of their summaries, one value per seed. Where a write-up's dataset is missing and
another stands in for it (`stand_ins`), claims about its numbers are not run, and claims
about an ordering (`on_stand_in: true`) run on the stand-in and say so.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from neuroevo.analysis.audit_evidence import (
    ClaimError,
    Evidence,
    Missing,
    Sample,
    common_generation,
    paired,
    select,
)
from neuroevo.analysis.equivalence import hodges_lehmann, one_sided_p, smallest_p
from neuroevo.analysis.stats import holm, min_attainable_p

CONFIRMED, REFUTED, INCONCLUSIVE, UNTESTABLE, NOT_RUN = (
    "confirmed",
    "refuted",
    "inconclusive",
    "untestable as published",
    "not run",
)
KINDS = ("value", "better", "not_worse", "not_better", "lower_spread", "grows", "slope", "loss_bound", "note")
CLAIM_KEYS = {
    "id",
    "write_up",
    "claim",
    "kind",
    "select",
    "against",
    "metric",
    "value",
    "margin",
    "on_stand_in",
    "verdict",
    "reason",
    "as_published",
    "small",
    "large",
    "ratio_to",
    "expected",
    "losses",
    "classes",
    "at_generation",
}


def check_claims(claims: list[dict]) -> None:
    """Every claim has an id, a known kind and only known keys; raises ClaimError naming them."""
    seen = set()
    for index, claim in enumerate(claims):
        name = claim.get("id", f"claims[{index}]")
        if "id" not in claim or "claim" not in claim or "write_up" not in claim:
            raise ClaimError(f"{name}: a claim needs id, write_up and claim")
        if name in seen:
            raise ClaimError(f"{name}: the id appears twice")
        seen.add(name)
        if claim.get("kind") not in KINDS:
            raise ClaimError(f"{name}.kind: unknown kind {claim.get('kind')!r}; known: {', '.join(KINDS)}")
        unknown = sorted(set(claim) - CLAIM_KEYS)
        if unknown:
            raise ClaimError(f"{name}: unknown key(s) {', '.join(unknown)}")


def _p(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else (f"{value:.2g}" if value < 0.001 else f"{value:.3f}")


def _reachable(n_nonzero: int, family: int) -> float:
    """The smallest Holm-corrected one-sided p these pairs can give."""
    return min(1.0, smallest_p(n_nonzero, two_sided=False) * family)


def _mean(sample: Sample) -> str:
    values = sample.values
    spread = f" ± {values.std(ddof=1):.4f}" if len(values) > 1 else ""
    return f"{sample.label}: {values.mean():.4f}{spread} (n = {len(values)})"


def _value(claim: dict, evidence: Evidence, alpha: float) -> dict:
    """The runs' values against the write-up's number: equivalent within ±margin (TOST on
    the differences from it), or different by more than the margin (one-sided beyond it)."""
    sample = select(evidence, claim["select"], claim["metric"], claim.get("on_stand_in", False))
    d = sample.values.to_numpy() - float(claim["value"])
    margin = float(claim.get("margin", 0.01))
    p_equivalent = max(one_sided_p(d + margin, "greater"), one_sided_p(d - margin, "less"))
    p_beyond = min(one_sided_p(d - margin, "greater"), one_sided_p(d + margin, "less")) * 2  # Holm over the 2 sides
    estimate = hodges_lehmann(d)
    row = {
        "ours": _mean(sample) + f"; Hodges-Lehmann difference {estimate:+.4f}",
        "test": f"one-sample Wilcoxon against {claim['value']} ± {margin}: TOST p {_p(p_equivalent)}, "
        f"beyond the margin p {_p(min(1.0, p_beyond))}",
        "n": len(d),
    }
    if p_equivalent < alpha:
        return row | {"verdict": CONFIRMED, "reason": f"within ±{margin} of the write-up's number"}
    if p_beyond < alpha:
        return row | {"verdict": REFUTED, "reason": f"differs from the write-up's number by more than {margin}"}
    return row | {
        "verdict": INCONCLUSIVE,
        "reason": f"neither within nor beyond ±{margin} of it at alpha {alpha} (n = {len(d)})",
    }


def _comparisons(claim: dict, evidence: Evidence) -> tuple[Sample, list[Sample]]:
    """The selection and those it is compared with; with `at_generation` (a number, or
    "common": the most generations all of them reached) read from the studies' histories."""
    on_stand_in = claim.get("on_stand_in", False)
    generation = claim.get("at_generation")
    if generation == "common":
        generation = common_generation(evidence, [claim["select"], *claim["against"]])
    mine = select(evidence, claim["select"], claim["metric"], on_stand_in, generation)
    others = [select(evidence, where, claim["metric"], on_stand_in, generation) for where in claim["against"]]
    return mine, others


def _ordering(claim: dict, evidence: Evidence, alpha: float) -> dict:
    """better: the selection above each of `against` (paired one-sided Wilcoxon, Holm);
    refuted when one of them is significantly above it. not_worse: not below any by more than
    `margin` (non-inferiority); refuted when below one by more than it. not_better: not above
    any by more than `margin` (non-superiority); refuted when above one by more than it."""
    mine, others = _comparisons(claim, evidence)
    kind, margin = claim["kind"], float(claim.get("margin", 0.01))
    shift = {"better": 0.0, "not_worse": margin, "not_better": -margin}[kind]
    pairs = [paired(mine, other) for other in others]
    differences = [a - b for a, b in pairs]
    for_claim = holm([one_sided_p(d + shift, "greater" if kind != "not_better" else "less") for d in differences])
    if kind == "better":
        against_claim = holm([one_sided_p(d, "less") for d in differences])
    elif kind == "not_worse":
        against_claim = holm([one_sided_p(d + margin, "less") for d in differences])
    else:  # better by more than the margin
        against_claim = holm([one_sided_p(d - margin, "greater") for d in differences])
    lines = [
        f"{other.label}: {a.mean():.4f} against {b.mean():.4f}, difference {hodges_lehmann(a - b):+.4f} "
        f"(n = {len(a)}, {int(np.count_nonzero(a - b))} non-zero), p {_p(p)}"
        for other, (a, b), p in zip(others, pairs, for_claim, strict=True)
    ]
    stand_in = mine.stand_in and f" (on {mine.stand_in}, standing in)"
    row = {
        "ours": f"{mine.label}{stand_in} against " + "; ".join(lines),
        "test": {
            "better": "paired one-sided Wilcoxon (above each), Holm",
            "not_worse": f"paired one-sided Wilcoxon against -{margin} (non-inferiority), Holm",
            "not_better": f"paired one-sided Wilcoxon against +{margin} (non-superiority), Holm",
        }[kind],
        "n": min((len(d) for d in differences), default=0),
    }
    if for_claim and all(p < alpha for p in for_claim):
        return row | {"verdict": CONFIRMED, "reason": ""}
    if any(p < alpha for p in against_claim):
        return row | {"verdict": REFUTED, "reason": "a comparison went significantly the other way"}
    reachable = min(_reachable(int(np.count_nonzero(d + shift)), len(differences)) for d in differences)
    return row | {
        "verdict": INCONCLUSIVE,
        "reason": f"no comparison decided it (the smallest Holm-corrected p these pairs can reach: {reachable:.3g})",
    }


def _lower_spread(claim: dict, evidence: Evidence, alpha: float) -> dict:
    """The selection's spread below each of `against`'s (Brown-Forsythe, Holm)."""
    mine, others = _comparisons(claim, evidence)
    p_values = holm([float(stats.levene(mine.values, other.values, center="median").pvalue) for other in others])
    spread = mine.values.std(ddof=1)
    lines = [
        f"{other.label} {other.values.std(ddof=1):.4f} (p {_p(p)})" for other, p in zip(others, p_values, strict=True)
    ]
    row = {
        "ours": f"standard deviation of {mine.label} {spread:.4f}; " + ", ".join(lines),
        "test": "Brown-Forsythe (Levene about the median), Holm",
        "n": len(mine.values),
    }
    below = [other.values.std(ddof=1) > spread for other in others]
    if all(below) and all(p < alpha for p in p_values):
        return row | {"verdict": CONFIRMED, "reason": ""}
    if any(not low and p < alpha for low, p in zip(below, p_values, strict=True)):
        return row | {"verdict": REFUTED, "reason": "another's spread is significantly smaller"}
    return row | {"verdict": INCONCLUSIVE, "reason": "no spread is significantly different from this one's"}


def _grows(claim: dict, evidence: Evidence, alpha: float) -> dict:
    """A metric (or its ratio to another selection's, per seed) larger on `large` than on
    `small` (one-sided Mann-Whitney on the logarithms)."""
    on_stand_in = claim.get("on_stand_in", False)

    def values(which: str) -> tuple[np.ndarray, str]:
        sample = select(evidence, claim[which]["select"], claim["metric"], on_stand_in)
        if "ratio_to" not in claim[which]:
            return np.log(sample.values.to_numpy()), sample.label
        reference = select(evidence, claim[which]["ratio_to"], claim["metric"], on_stand_in)
        a, b = paired(sample, reference)
        return np.log(a / b), f"{sample.label} / {reference.label}"

    (small, small_label), (large, large_label) = values("small"), values("large")
    p_grows = float(stats.mannwhitneyu(large, small, alternative="greater").pvalue)
    p_shrinks = float(stats.mannwhitneyu(large, small, alternative="less").pvalue)
    row = {
        "ours": f"{small_label}: median {math.exp(np.median(small)):.3g}; {large_label}: median "
        f"{math.exp(np.median(large)):.3g}",
        "test": f"one-sided Mann-Whitney on the logarithms, p {_p(p_grows)}",
        "n": min(len(small), len(large)),
    }
    if p_grows < alpha:
        return row | {"verdict": CONFIRMED, "reason": ""}
    if p_shrinks < alpha:
        return row | {"verdict": REFUTED, "reason": "it shrinks instead"}
    reachable = min_attainable_p(len(large), len(small)) / 2
    return row | {"verdict": INCONCLUSIVE, "reason": f"not significant (smallest one-sided p {reachable:.3g})"}


def _slope(claim: dict, evidence: Evidence, alpha: float) -> dict:
    """The ES alignment's dependence on the network's size: the least-squares slope of
    log cosine on log parameters and log pairs (statsmodels OLS); the claim expects the
    parameters' slope `expected` ("zero": no decay, the estimate scales; "negative")."""
    import statsmodels.api as sm

    frame = evidence.alignment
    if frame is None or not len(frame):
        raise Missing("the ES alignment measurement (study es_gradient) is not in this audit")
    # One point per (network, pairs, seed): a seed's minibatches share its draws, so they are
    # not independent; a mean that is not positive has no logarithm and is left out (said below).
    keys = [key for key in ("n_parameters", "pairs", "seed") if key in frame]
    means = frame.groupby(keys, as_index=False)["cosine_similarity"].mean()
    dropped = int((means["cosine_similarity"] <= 0).sum())
    frame = means[means["cosine_similarity"] > 0]
    design = sm.add_constant(np.column_stack([np.log(frame["n_parameters"]), np.log(frame["pairs"])]))
    fit = sm.OLS(np.log(frame["cosine_similarity"].to_numpy()), design).fit()
    slope, (low, high) = float(fit.params[1]), fit.conf_int(alpha)[1]
    pairs_slope = float(fit.params[2])
    row = {
        "ours": f"log cosine = {fit.params[0]:.2f} {slope:+.3f} log n {pairs_slope:+.3f} log pairs "
        f"(slope of n {slope:+.3f}, {100 * (1 - alpha):.0f}% interval [{low:+.3f}, {high:+.3f}]; sqrt(pairs / n) "
        "predicts -0.5 and +0.5)",
        "test": "least squares on the mean cosine per network, pairs and seed"
        + (f" ({dropped} means not positive left out)" if dropped else ""),
        "n": len(frame),
    }
    decays = high < 0
    if claim.get("expected", "zero") == "zero":  # "scales": the alignment does not fall with n
        if decays:
            return row | {"verdict": REFUTED, "reason": "at a fixed number of pairs the alignment falls as n grows"}
        if low > 0:
            return row | {"verdict": CONFIRMED, "reason": "the alignment grows with n"}
        return row | {"verdict": INCONCLUSIVE, "reason": "the slope's interval includes 0"}
    if decays:
        return row | {"verdict": CONFIRMED, "reason": ""}
    return row | {"verdict": INCONCLUSIVE if low < 0 else REFUTED, "reason": "the slope is not significantly negative"}


def double_softmax_bound(classes: int) -> float:
    """The lowest cross-entropy possible when it is applied to softmax outputs instead of logits
    (torch's CrossEntropyLoss on probabilities): a perfect prediction (1 for the class, 0 for
    the rest) softmaxed again gives the class e / (e + K - 1), a loss of log(1 + (K - 1) / e)."""
    return math.log(1 + (classes - 1) / math.e)


def _loss_bound(claim: dict, evidence: Evidence, alpha: float) -> dict:
    """The write-up's losses against the floor of cross-entropy on softmax outputs: all above
    it, and none far above, means they are probably of probabilities, not comparable to ours."""
    bound = double_softmax_bound(int(claim["classes"]))
    losses = [float(value) for value in claim["losses"]]
    ours = ""
    try:
        ours = "; ours: " + _mean(select(evidence, claim["select"], "test_loss", True))
    except Missing as missing:
        ours = f"; ours: - ({missing})"
    above = all(loss >= bound for loss in losses)
    reason = (
        f"the lowest cross-entropy of softmax outputs softmaxed again is log(1 + {int(claim['classes']) - 1}/e) = "
        f"{bound:.3f}; the write-up's {len(losses)} losses lie in [{min(losses):.4f}, {max(losses):.4f}], "
        + (
            "all above it, as they would be had the loss been applied to probabilities: they are not comparable "
            "to losses of logits (ours)"
            if above
            else "some below it, so they are not of that kind; whether they compare with ours is unknown"
        )
    )
    return {
        "ours": f"floor {bound:.3f}" + ours,
        "test": "-",
        "n": 0,
        "verdict": UNTESTABLE,
        "reason": reason,
    }


def _note(claim: dict, evidence: Evidence, alpha: float) -> dict:
    """A claim judged by its write-up alone (the verdict and reason given in the claims file),
    with the runs' numbers beside it when `select` names some."""
    ours = ""
    if "select" in claim:
        try:
            ours = _mean(select(evidence, claim["select"], claim["metric"], True))
        except Missing as missing:
            ours = f"- ({missing})"
    return {"ours": ours, "test": "-", "n": 0, "verdict": claim["verdict"], "reason": claim.get("reason", "")}


CHECKS = {
    "value": _value,
    "better": _ordering,
    "not_worse": _ordering,
    "not_better": _ordering,
    "lower_spread": _lower_spread,
    "grows": _grows,
    "slope": _slope,
    "loss_bound": _loss_bound,
    "note": _note,
}


def as_published(value) -> str:
    """What the write-up's own evidence could show: {seeds: n} gives the smallest p its tests
    could reach with n seeds per optimizer."""
    if isinstance(value, dict) and "seeds" in value:
        n = int(value["seeds"])
        wilcoxon, mann_whitney = min_attainable_p(n, n, "wilcoxon"), min_attainable_p(n, n)
        verdict = UNTESTABLE if min(wilcoxon, mann_whitney) >= 0.05 else "testable"
        return (
            f"{verdict}: with {n} seeds a two-sided Wilcoxon signed-rank test cannot go below p = {wilcoxon:.3g}, "
            f"a Mann-Whitney test below {mann_whitney:.3g}"
        )
    return str(value or "")


def audit(claims: list[dict], evidence: Evidence, alpha: float = 0.05) -> pd.DataFrame:
    """One row per claim: the write-up's words and number, ours, the test, n, the verdict and why."""
    check_claims(claims)
    rows = []
    for claim in claims:
        base = {
            "id": claim["id"],
            "write_up": str(claim["write_up"]),
            "claim": claim["claim"],
            "theirs": "" if claim.get("value") is None else str(claim["value"]),
            "as_published": as_published(claim.get("as_published")),
        }
        try:
            result = CHECKS[claim["kind"]](claim, evidence, alpha)
        except Missing as missing:
            result = {"ours": "-", "test": "-", "n": 0, "verdict": NOT_RUN, "reason": str(missing)}
        except KeyError as key:
            raise ClaimError(f"{claim['id']}: a {claim['kind']} claim needs {key}") from None
        rows.append(base | result)
    return pd.DataFrame(rows)
