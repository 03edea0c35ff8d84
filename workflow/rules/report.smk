# The report's inputs (figures, tuning results, study and discovery sections), its figures
# and the report itself.


def all_tuning_results():
    return [
        f"results/tuning/{dataset}/{optimizer}.json"
        for dataset in config["datasets"]
        for optimizer in config["optimizers"]
        if specs.tuned(config, optimizer)
    ]


def study_sections():
    return [f"results/studies/{name}/study.md" for name in config["studies"]]


def discovery_sections():
    """The report section of every discovery study: it needs the study and its comparison."""
    studies = specs.discovery_studies(config)
    return [f"results/discovery/{name}/section.md" for name in studies]


def report_figures():
    """The report's figures, one cost curve and one boxplot per dataset, and the ranks."""
    per_dataset = [
        f"results/report/figures/{dataset}_{kind}.png"
        for dataset in config["datasets"]
        for kind in ("cost", "test_acc")
    ]
    return per_dataset + ["results/report/figures/critical_difference.png"]


def regenerate_command():
    """What the report header gives as the command that regenerates it; paths quoted, as
    it is meant to be pasted into a shell."""
    configfiles = [os.path.relpath(path) for path in workflow.overwrite_configfiles]
    extra = "".join(
        f" --configfile {shlex.quote(path)}"
        for path in configfiles
        if path != "config.yaml"
    )
    config_args = workflow.config_settings.config_args or []  # --config KEY=VALUE ...
    if config_args:
        extra += " --config " + " ".join(shlex.quote(arg) for arg in config_args)
    return f"snakemake --cores 2 --forcerun aggregate{extra}"


rule report_figures:
    input:
        runs="results/summary/runs.parquet",
        histories="results/summary/histories.parquet",
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
        ranks="results/summary/ranks.parquet",
    log:
        "results/logs/report_figures.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        alpha=config["report"]["alpha"],
        target_fraction=config["report"]["target_fraction"],
        targets=specs.to_json(config["report"]["targets"]),
        summary_dir=lambda wildcards, input: Path(input.runs).parent,
        out_dir=lambda wildcards, output: Path(output.figures[0]).parent,
    shell:
        "python -m neuroevo report-figures --summary-dir {params.summary_dir:q} --out-dir {params.out_dir:q} "
        "--alpha {params.alpha:q} --target-fraction {params.target_fraction:q} --targets {params.targets:q} > {log:q} 2>&1"


rule report:
    input:
        runs="results/summary/runs.parquet",
        metrics="results/summary/metrics.parquet",
        tests="results/summary/tests.parquet",
        costs="results/summary/cost_to_target.parquet",
        ranks="results/summary/ranks.parquet",
        figures=report_figures(),
        tuning=all_tuning_results(),
        studies=study_sections() + discovery_sections(),
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
        command=regenerate_command(),
    shell:
        "python -m neuroevo report --summary-dir {params.summary_dir:q} --template {input.template:q} "
        "--tuning {input.tuning:q} --studies {input.studies:q} --config-json {params.config:q} --source-dir {params.source_dir:q} "
        "--figures-dir {params.figures_dir:q} --command {params.command:q} --out {output:q} > {log:q} 2>&1"
