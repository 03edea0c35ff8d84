rule aggregate:
    input:
        summaries=all_summaries(),
        histories=[
            path.replace("summary.json", "history.parquet") for path in all_summaries()
        ],
    output:
        runs="results/summary/runs.parquet",
        histories="results/summary/histories.parquet",
        metrics="results/summary/metrics.parquet",
        tests="results/summary/tests.parquet",
        rungs="results/summary/rungs.parquet",
        metrics_csv=report(
            "results/summary/metrics.csv",
            caption="../../report/captions/metrics.rst",
            category="Tables",
        ),
        tests_csv=report(
            "results/summary/tests.csv",
            caption="../../report/captions/tests.rst",
            category="Tables",
        ),
    log:
        "results/logs/aggregate.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        alpha=config["report"]["alpha"],
        test=config["report"]["test"],
        out_dir=lambda wildcards, output: Path(output.runs).parent,
    shell:
        "python -m neuroevo aggregate --out-dir {params.out_dir:q} --alpha {params.alpha:q} --test {params.test:q} "
        "{input.summaries:q} > {log:q} 2>&1"
