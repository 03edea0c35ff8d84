"""Command line: every Snakemake rule calls one of these, and so can a user by hand.

python -m neuroevo data --dataset iris --out resources/data/iris.npz
python -m neuroevo train --data resources/data/iris.npz --dataset iris --optimizer adam --seed 0 --spec '{...}' --out-dir DIR
python -m neuroevo train --data resources/data/iris.npz --dataset iris --optimizer adam --seeds 0 1 2 --spec '{...}' --runs-dir DIR
python -m neuroevo tune --data resources/data/iris.npz --dataset iris --optimizer adam --trials 10 --search-space '{...}' ...
python -m neuroevo aggregate --out-dir results/summary SUMMARY.json ...
python -m neuroevo report-figures --summary-dir results/summary --out-dir results/report/figures
python -m neuroevo report --summary-dir results/summary --template T --config-json '{...}' --out report.md
python -m neuroevo study-alignment --data resources/data/iris.npz --settings '{...}' --out alignment.parquet
python -m neuroevo study-report --name NAME --study-json '{...}' --out results/studies/NAME/study.md SUMMARY.json ...
python -m neuroevo discover --study-json '{...}' --data digits=resources/data/digits.npz --out-dir results/discovery/NAME
python -m neuroevo discovery-report --name NAME --study-json '{...}' --discovery-dir DIR --out section.md SUMMARY.json ...
python -m neuroevo schema [--check]    # workflow/schemas/optimizers.schema.yaml from the optimizer registry
"""

from __future__ import annotations

import logging
import shlex
import sys

from neuroevo.cli.parser import build_parser
from neuroevo.models.device import keep_freed_memory

log = logging.getLogger("neuroevo")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    # First in every job's log: the command that reruns the job by hand, quoted for a shell.
    log.info("command: %s", shlex.join(["python", "-m", "neuroevo", *argv]))
    args = build_parser().parse_args(argv)
    # Before any tensor: fresh activations each evaluation would otherwise page-fault in.
    keep_freed_memory()
    try:
        args.func(args)
    except Exception as error:  # one clear line naming the problem, then the traceback in the log
        log.exception("neuroevo %s failed", args.command)
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
