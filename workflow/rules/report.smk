rule report_figures:
    input:
        runs="results/summary/runs.parquet",
        histories="results/summary/histories.parquet",
        rungs="results/summary/rungs.parquet",
        budgets=all_budgets(),
    output:
        figures=[
            report(
                path,
                caption="../../report/captions/figures.rst",
                category="Figures",
                labels={"figure": Path(path).stem},
            )
            for path in report_figures()
        ],
        costs=report(
            "results/summary/cost_to_target.csv",
            caption="../../report/captions/cost_to_target.rst",
            category="Tables",
        ),
        cost_table="results/summary/cost_to_target.parquet",
        verdicts=report(
            "results/summary/verdicts.csv",
            caption="../../report/captions/verdicts.rst",
            category="Tables",
        ),
        verdict_table="results/summary/verdicts.parquet",
        parity=report(
            "results/summary/parity.csv",
            caption="../../report/captions/parity.rst",
            category="Tables",
        ),
        parity_table="results/summary/parity.parquet",
        ranks="results/summary/ranks.parquet",
    log:
        "results/logs/report_figures.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        alpha=config["report"]["alpha"],
        target_fraction=config["report"]["target_fraction"],
        targets=specs.to_json(config["report"]["targets"]),
        margin=config["report"]["equivalence_margin"],
        runtime_targets=config["report"]["runtime_targets"],
        summary_dir=lambda wildcards, input: Path(input.runs).parent,
        out_dir=lambda wildcards, output: Path(output.figures[0]).parent,
    shell:
        "python -m neuroevo report-figures --summary-dir {params.summary_dir:q} --out-dir {params.out_dir:q} "
        "--alpha {params.alpha:q} --target-fraction {params.target_fraction:q} --targets {params.targets:q} "
        "--margin {params.margin:q} --runtime-targets {params.runtime_targets:q} --budgets {input.budgets:q} > {log:q} 2>&1"


rule report:
    input:
        runs="results/summary/runs.parquet",
        metrics="results/summary/metrics.parquet",
        tests="results/summary/tests.parquet",
        costs="results/summary/cost_to_target.parquet",
        verdicts="results/summary/verdicts.parquet",
        parity="results/summary/parity.parquet",
        ranks="results/summary/ranks.parquet",
        budget_files=all_budgets(),
        figures=report_figures(),
        tuning=all_tuning_results(),
        studies=[f"results/studies/{name}/study.md" for name in config["studies"]]
        + [
            f"results/discovery/{name}/section.md"
            for name in specs.discovery_studies(config)
        ]
        + (["results/audit/section.md"] if config["audit"]["claims"] else []),
        template=REPOSITORY / "report/templates/report.md.j2",
    output:
        report(
            "results/report/report.md",
            caption="../../report/captions/report.rst",
            category="Report",
        ),
    log:
        "results/logs/report.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        config=specs.to_json(config),
        summary_dir=lambda wildcards, input: Path(input.runs).parent,
        figures_dir=lambda wildcards, input: Path(input.figures[0]).parent,
        source_dir=REPOSITORY,
        command=specs.regenerate_command(
            workflow.overwrite_configfiles, workflow.config_settings.config_args
        ),
    shell:
        "python -m neuroevo report --summary-dir {params.summary_dir:q} --template {input.template:q} "
        "--tuning {input.tuning:q} --studies {input.studies:q} --config-json {params.config:q} --source-dir {params.source_dir:q} "
        "--figures-dir {params.figures_dir:q} --budgets {input.budget_files:q} --command {params.command:q} --out {output:q} > {log:q} 2>&1"
