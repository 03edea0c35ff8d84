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
    log:
        "results/logs/aggregate.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        alpha=config["report"]["alpha"],
        out_dir=lambda wildcards, output: Path(output.runs).parent,
    shell:
        "python -m neuroevo aggregate --out-dir {params.out_dir} --alpha {params.alpha} "
        "{input.summaries} > {log} 2>&1"
