"""PGPE and OpenAI-ES against Adam on a real network under a wall-time budget (issue 20),
through the ordinary training loop (`neuroevo.training.loop.train`, the optimizers the report uses).

Fashion-MNIST at 28x28, the pipeline's small CNN (n = 20,490), the pipeline's split (val 0.2),
its 48,000 training images, seed 0, torch on all cores (2 here). Each evolutionary run stops
at the first epoch end past its budget (20 minutes; Adam a sixth of it) and reports the model
with the best validation loss; printed: its test accuracy at a quarter, half and all of the
budget, against the target (the best of them >= 0.85 within 20 minutes on 2 cores), and Adam's
in the same run. `--optimizers` picks the evolutionary runs (default: pgpe only, since each
takes the whole budget; es: add it).

Timings are noisy on a shared machine: compare figures within one run.
"""

from __future__ import annotations

from budget_runs import accuracy_at, parse_arguments, prepared, run_budgeted

TARGET = 0.85  # test accuracy of the best of pgpe / es within the budget (issue 20)

# name: (optimizer, hyperparameters, batch size). PGPE at EvoJAX's MNIST population (64) on
# a fitness batch of 256: about 190 generations per epoch here.
RUNS = {
    "adam": ("adam", {"lr": 1e-3}, 128),
    "pgpe": ("pgpe", {"popsize": 64}, 256),
    "es": ("es", {"pairs": 32}, 256),
}


def main() -> None:
    def optimizers(parser):
        parser.add_argument(
            "--optimizers", default="pgpe", help="evolutionary runs, comma-separated: pgpe, es (default: pgpe)"
        )

    args = parse_arguments(__doc__, full=("fashion_mnist", 16), model="cnn", budget=1200.0, extra=optimizers)
    chosen = args.optimizers.split(",")
    unknown = sorted(set(chosen) - {"pgpe", "es"})
    if unknown:
        raise SystemExit(f"--optimizers: unknown or not evolutionary: {', '.join(unknown)}; known: pgpe, es")
    with prepared(args) as (data, _):
        runs = run_budgeted({name: RUNS[name] for name in ["adam", *chosen]}, args, data)
        results = {name: accuracy_at(history, args.budget) for name, (_, history) in runs.items()}
        best = max(chosen, key=lambda name: results[name])
        print(
            f"best of {' / '.join(chosen)}: {best}, test accuracy {results[best]:.4f} within {args.budget:g} s = "
            f"{results[best] / TARGET:.3f} of the target {TARGET} -> {'MET' if results[best] >= TARGET else 'NOT MET'}; "
            f"Adam in a sixth of the time: {results['adam']:.4f}"
        )


if __name__ == "__main__":
    main()
