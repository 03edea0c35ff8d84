"""Layerwise CMA-ES on a 3-layer MLP against whole-model CMA-ES at the same FLOP budget (issue 20),
through the ordinary training loop (`neuroevo.training.loop.train`, the optimizers the report uses).

Fashion-MNIST at 14x14, the MLP 196-32-32-10 (n = 7,690: layers of 6,304, 1,056 and 330
parameters), the pipeline's split (val 0.2), seed 0, torch on all cores. Both run the torch
sep-CMA-ES with mirrored sampling, sigma0 0.05, on a fitness batch of 512, to the same
forward-equivalent FLOP budget (training.budget_flops: the equal-budget arm, read at the
step that spends it). Layerwise has one distribution per layer; the candidates of layer k
reuse the mean network's activations up to k, so its later layers' candidates cost a
fraction of a network and it takes more generations from the same FLOPs. Printed per run:
generations, seconds, test accuracy at the end of the budget and of the best-validation
model within it; then layerwise over cmaes for each. No target: the issue asks for the
comparison.
"""

from __future__ import annotations

import torch
from budget_runs import parse_arguments, prepared
from cmaes_budget import TORCH

from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.training.loop import train

# cmaes at cmaes_speed's population; layerwise as there per layer (the output layer's 40),
# with 80 for the middle layer of 1,056 parameters.
RUNS = {
    "cmaes": ("cmaes", {**TORCH, "popsize": 400}),
    "layerwise_cmaes": ("layerwise_cmaes", {**TORCH, "popsize": [200, 80, 40]}),
}


def main() -> None:
    def flops(parser):
        parser.add_argument("--flops", type=float, default=3e12, help="forward-equivalent FLOPs per run")

    args = parse_arguments(__doc__, full=("fashion_mnist14", [32, 32]), extra=flops)
    if args.quick:
        args.hidden, args.flops = [16, 16], 2e10
    with prepared(args) as (data, problem):
        print(f"budget: {args.flops:.3g} forward-equivalent FLOPs per run, {len(problem.groups)} layers")
        header = f"{'run':<16} {'generations':>11} {'seconds':>8} | {'test acc at budget':>18} {'best-val model':>14}"
        print(header)
        print("-" * len(header))
        results = {}
        for name, (optimizer, hyperparameters) in RUNS.items():
            settings = TrainingSettings(
                batch_size=512, max_epochs=1, budget_flops=args.flops, threads=torch.get_num_threads()
            )
            spec = RunSpec(
                args.dataset, optimizer, 0, hidden=args.hidden, training=settings, hyperparameters=hyperparameters
            )
            summary, _ = train(spec, data)
            results[name] = summary
            print(
                f"{name:<16} {summary['budget_steps']:>11} {summary['budget_wall_time_s']:>8.1f} | "
                f"{summary['budget_test_acc']:>18.4f} {summary['budget_best_test_acc']:>14.4f}"
            )
        cmaes, layerwise = results["cmaes"], results["layerwise_cmaes"]
        print()
        print(
            f"layerwise / cmaes at the same FLOPs: generations {layerwise['budget_steps'] / cmaes['budget_steps']:.2f}x, "
            f"test accuracy at the budget {layerwise['budget_test_acc'] / cmaes['budget_test_acc']:.3f}x "
            f"({layerwise['budget_test_acc']:.4f} against {cmaes['budget_test_acc']:.4f}), "
            f"seconds {layerwise['budget_wall_time_s'] / cmaes['budget_wall_time_s']:.2f}x"
        )


if __name__ == "__main__":
    main()
