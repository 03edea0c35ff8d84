"""Plotting primitives (PNG, matplotlib's Agg backend) and the study sections' figures:
per run, the points of a curve; over seeds, the median as a line and the interquartile
range as a band. The main report's figure set, drawn with these, is neuroevo.report.figures.

Seeds rarely share x values when x is a cost (sample_evals, wall_s), so each seed's curve
is interpolated linearly onto the union of all seeds' x values, inside its own range only
(never extrapolated). The median and quartiles at an x use the seeds that reach it, and
only where at least half of the seeds do: a run that went on longer than most (another
stopping point, a bigger budget share) does not draw a tail of one seed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display; set before pyplot is imported

import hashlib  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from neuroevo.config.names import OPTIMIZER_NAMES  # noqa: E402

PALETTE = plt.get_cmap("tab10").colors + plt.get_cmap("Dark2").colors


def colour(name: str):
    """One colour per optimizer in every figure of the report and its sections: the known
    optimizers by their registry order, any other label (a study's variant) by a hash of it."""
    if name in OPTIMIZER_NAMES:
        return PALETTE[OPTIMIZER_NAMES.index(name)]
    digest = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    return PALETTE[len(OPTIMIZER_NAMES) + digest % (len(PALETTE) - len(OPTIMIZER_NAMES))]


def curve_points(history: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """(x, y) of one run, sorted, without rows where either is missing. Epoch 0 (the
    initial model) has no optimizer columns; its generation is 0 all the same."""
    points = pd.DataFrame({"x": history[x] if x in history else np.nan, "y": history[y] if y in history else np.nan})
    if x == "generation":
        points.loc[history["epoch"] == 0, "x"] = 0
    return points.dropna().astype(float).sort_values("x")


def median_band(runs: list[pd.DataFrame]) -> pd.DataFrame:
    """Median, 25th and 75th percentile over runs of (x, y) points, on the union of their x
    values, where at least half of the runs have data."""
    runs = [run for run in runs if len(run)]
    if not runs:
        return pd.DataFrame(columns=["x", "median", "q25", "q75", "n"])
    grid = np.unique(np.concatenate([run["x"].to_numpy() for run in runs]))
    values = np.full((len(runs), len(grid)), np.nan)
    for index, run in enumerate(runs):
        inside = (grid >= run["x"].iloc[0]) & (grid <= run["x"].iloc[-1])
        values[index, inside] = np.interp(grid[inside], run["x"].to_numpy(), run["y"].to_numpy())
    counts = np.sum(~np.isnan(values), axis=0)
    keep = counts >= len(runs) / 2
    quartiles = np.nanpercentile(values[:, keep], [25, 50, 75], axis=0)
    return pd.DataFrame(
        {"x": grid[keep], "median": quartiles[1], "q25": quartiles[0], "q75": quartiles[2], "n": counts[keep]}
    )


def save(figure, out: Path) -> None:
    """Write the figure as PNG (its folder made) and free it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    plt.close(figure)


def _band_plot(
    bands: dict[str, pd.DataFrame],
    xlabel: str,
    ylabel: str,
    title: str,
    out: Path,
    log_x: bool = False,
    log_y: bool = False,
    marker: str | None = None,
) -> None:
    figure, axes = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for label, band in bands.items():
        if log_x:  # x = 0 (the initial model) has no place on a log axis: a line to it would draw flat
            band = band[band["x"] > 0]
        # Markers where a curve has few points (a run of one epoch would draw no line).
        point = marker or ("o" if len(band) <= 30 else None)
        axes.plot(band["x"], band["median"], label=label, marker=point, markersize=4, color=colour(label))
        axes.fill_between(band["x"], band["q25"], band["q75"], color=colour(label), alpha=0.2, linewidth=0)
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if log_x:
        axes.set_xscale("log")
    if log_y:
        axes.set_yscale("log")
    axes.grid(alpha=0.3)
    if bands:
        axes.legend(fontsize="small")
    save(figure, out)


# History columns in words, for the axes of study figures (another column keeps its name).
AXIS_WORDS = {
    "epoch": "epoch",
    "generation": "generation",
    "wall_s": "wall time (s)",
    "train_s": "seconds in optimizer steps",
    "sample_evals": "sample evaluations",
    "model_evals": "model evaluations",
    "flops": "forward-equivalent FLOPs",
    "val_acc": "validation accuracy",
    "val_loss": "validation loss",
    "train_loss": "training loss",
    "test_acc": "test accuracy",
    "sigma": "step size sigma",
    "sigma_0": "sigma of the hidden layer",
    "sigma_1": "sigma of the output layer",
    "best_loss": "loss of the best genome",
}


def plot_curves(histories: dict[str, list[pd.DataFrame]], figure: dict, out: str | Path) -> None:
    """One study figure: `histories` is variant -> its runs' history tables; `figure` a
    study file's figure entry (name, x, y, log_x, log_y, title)."""
    x, y = figure["x"], figure["y"]
    bands = {label: median_band([curve_points(run, x, y) for run in runs]) for label, runs in histories.items()}
    bands = {label: band for label, band in bands.items() if len(band)}  # a variant without the column drops out
    title = figure.get("title") or f"{y} vs {x}"
    xlabel, ylabel = AXIS_WORDS.get(x, x), AXIS_WORDS.get(y, y)
    _band_plot(bands, xlabel, ylabel, title, Path(out), figure.get("log_x", False), figure.get("log_y", False))


def alignment_by_seed(alignment: pd.DataFrame) -> pd.DataFrame:
    """Cosine similarity per (hidden, n_parameters, pairs, seed): the mean over minibatches."""
    return alignment.groupby(["hidden", "n_parameters", "pairs", "seed"], as_index=False)["cosine_similarity"].mean()


def _alignment_bands(by_seed: pd.DataFrame, line: str, x: str) -> dict[str, pd.DataFrame]:
    bands = {}
    for value, group in by_seed.groupby(line):
        quartiles = group.groupby(x)["cosine_similarity"].quantile([0.25, 0.5, 0.75]).unstack()
        label = (
            f"{value} pairs" if line == "pairs" else f"hidden {value} ({group['n_parameters'].iloc[0]:,} parameters)"
        )
        bands[label] = pd.DataFrame(
            {"x": quartiles.index, "median": quartiles[0.5], "q25": quartiles[0.25], "q75": quartiles[0.75]}
        )
    return bands


def plot_alignment(alignment: pd.DataFrame, out_dir: str | Path) -> dict[str, Path]:
    """The two alignment figures (median and IQR over seeds); returns title -> path."""
    by_seed, out_dir = alignment_by_seed(alignment), Path(out_dir)
    paths = {
        "ES gradient alignment by number of parameters": out_dir / "alignment_vs_parameters.png",
        "ES gradient alignment by number of pairs": out_dir / "alignment_vs_pairs.png",
    }
    by_size, by_pairs = paths.items()
    _band_plot(
        _alignment_bands(by_seed, "pairs", "n_parameters"), "parameters", "cosine similarity", *by_size, log_x=True
    )
    _band_plot(
        _alignment_bands(by_seed, "hidden", "pairs"), "antithetic pairs", "cosine similarity", *by_pairs, log_x=True
    )
    return paths
