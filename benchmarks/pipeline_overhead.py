"""Where a study's time goes: training, or starting Python? (issue 16)

Runs a fixed slice of the default study end to end through Snakemake twice, in temporary
directories, with `runs_per_job: 1` (a job per run, as before blocks) and with the config's
default, and prints for each: jobs, wall time, the seconds spent inside runs (the sum of
`wall_time_s` over the runs' summaries, plus the durations of the tuning trials, each a run
of its tuning job), the peak RSS of the training jobs (from their logs) and

    start-up share = 1 - (seconds inside runs) / (wall time x cores)

the share of the machine's time not spent in a run: interpreters and torch starting, data
read, Snakemake's own work between jobs, and cores idle while the DAG narrows. Target: under
25% with the default. The slice: the default study without its optimizer discovery, i.e.
config.yaml's datasets (Iris, digits, Fashion-MNIST 14x14) and six optimizers, each tuned,
then trained on its 10 seeds: 18 tuning jobs and 180 runs.
Timings are the machine's; only the ratios within one run of this script are meaningful.

    python benchmarks/pipeline_overhead.py [--cores 2] [--seeds 10] [--quick]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from machine import describe

REPOSITORY = Path(__file__).resolve().parents[1]
TARGET_SHARE = 0.25
RSS = re.compile(r"peak RSS of the job so far (\d+) MB")


def run_slice(workdir: Path, runs_per_job: int | None, cores: int, overrides: dict) -> dict:
    config = yaml.safe_load((REPOSITORY / "config.yaml").read_text()) | overrides
    if runs_per_job is not None:
        config["runs_per_job"] = runs_per_job
    workdir.mkdir(parents=True)
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    snakemake = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    command = [snakemake, "--snakefile", str(REPOSITORY / "Snakefile"), "--directory", str(workdir)]
    command += ["--configfile", str(configfile), "--cores", str(cores)]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"snakemake failed in {workdir}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    summaries = list((workdir / "results" / "runs").glob("*/*/*/summary.json"))
    # A run's whole wall time (with a FLOP budget it goes on past its early-stopping arm's).
    inside = sum(json.loads(path.read_text())["run_wall_time_s"] for path in summaries)
    trials = [pd.read_parquet(path) for path in (workdir / "results" / "tuning").glob("*/*.trials.parquet")]
    inside += sum(table["duration"].dt.total_seconds().sum() for table in trials)
    rss = [
        max(map(int, RSS.findall(log.read_text())), default=0)
        for log in (workdir / "results" / "logs" / "train").rglob("*.log")
    ]
    jobs = len(re.findall(r"^Finished jobid", result.stdout + result.stderr, re.MULTILINE))
    return {
        "jobs": jobs,
        "runs": len(summaries),
        "wall_s": wall,
        "inside_s": inside,
        "share": 1 - inside / (wall * cores),
        "rss_median_mb": statistics.median(rss) if rss else float("nan"),
        "rss_max_mb": max(rss, default=float("nan")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="Iris, sgd and cmaes, 3 seeds: a check that it runs")
    args = parser.parse_args()
    overrides = {"seeds": args.seeds, "discovery_enabled": False, "studies": []}
    if args.quick:
        overrides |= {"datasets": ["iris"], "optimizers": ["sgd", "cmaes"], "seeds": 3, "tuning": {"enabled": False}}
    schema = yaml.safe_load((REPOSITORY / "workflow" / "schemas" / "config.schema.yaml").read_text())
    config = yaml.safe_load((REPOSITORY / "config.yaml").read_text())
    default_runs = config.get("runs_per_job", schema["properties"]["runs_per_job"]["default"])
    print(describe())
    optimizers = overrides.get("optimizers", "config.yaml's optimizers")
    datasets = overrides.get("datasets", config["datasets"])
    print(f"slice: {datasets} x {optimizers} x {overrides['seeds']} seeds, --cores {args.cores}")
    rows = {}
    with tempfile.TemporaryDirectory(prefix="pipeline_overhead.") as folder:
        for label, runs_per_job in (("runs_per_job 1", 1), (f"runs_per_job {default_runs} (default)", None)):
            rows[label] = run_slice(Path(folder) / label.split()[1], runs_per_job, args.cores, overrides)
    print(
        f"{'':28} {'jobs':>5} {'runs':>5} {'wall s':>8} {'in runs s':>10} {'start-up share':>15} {'peak RSS/job MB (median, max)':>30}"
    )
    for label, row in rows.items():
        rss = f"{row['rss_median_mb']:.0f}, {row['rss_max_mb']:.0f}"
        print(
            f"{label:28} {row['jobs']:5d} {row['runs']:5d} {row['wall_s']:8.1f} {row['inside_s']:10.1f} "
            f"{row['share']:15.0%} {rss:>30}"
        )
    single, blocks = rows.values()
    print(f"end to end: blocks {single['wall_s'] / blocks['wall_s']:.2f}x faster than one run per job")
    verdict = "MET" if blocks["share"] < TARGET_SHARE else "NOT MET"
    print(f"target: start-up share under {TARGET_SHARE:.0%} with the default: {blocks['share']:.0%}, {verdict}")


if __name__ == "__main__":
    main()
