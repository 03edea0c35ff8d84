rule report:
    input:
        runs="results/summary/runs.parquet",
        metrics="results/summary/metrics.parquet",
        tests="results/summary/tests.parquet",
        tuning=all_tuning_results(),
        studies=study_sections() + discovery_sections(),
        template=REPOSITORY / "report/templates/report.md.j2",
    output:
        "results/report/report.md",
    log:
        "results/logs/report.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        config=json.dumps(config, sort_keys=True),
        summary_dir=lambda wildcards, input: Path(input.runs).parent,
        source_dir=REPOSITORY,
    shell:
        "python -m neuroevo report --summary-dir {params.summary_dir} --template {input.template:q} "
        "--tuning {input.tuning} --studies {input.studies} --config-json {params.config:q} --source-dir {params.source_dir:q} --out {output} > {log} 2>&1"
