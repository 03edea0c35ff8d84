# The prior-work audit (config `audit`): every claim of audit.claims tested on this config's
# main runs, studies and discovery comparisons; its section closes the report.


rule audit:
    input:
        claims=lambda wildcards: config["audit"]["claims"],
        runs="results/summary/runs.parquet",
        studies=all_study_runs(),
        alignment=[
            f"results/studies/{name}/alignment.parquet"
            for name in config["studies"]
            if "alignment" in load_study(name)
        ],
        comparisons=[
            f"results/discovery/{name}/comparison.parquet"
            for name in specs.discovery_studies(config)
        ],
    output:
        section="results/audit/section.md",
        table="results/audit/audit.parquet",
        csv="results/audit/audit.csv",
    log:
        "results/logs/audit.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        # NAME=PATH words, each quoted by the shell command's :q.
        # A study that ran nothing (its raw data are missing) has no runs to test claims on.
        studies=[
            f"{name}=results/studies/{name}"
            for name in config["studies"]
            if not study_missing_data(name)
        ],
        discovery=lambda wildcards, input: [
            f"{Path(path).parent.name}={path}" for path in input.comparisons
        ],
        alignment=lambda wildcards, input: (
            ["--alignment", input.alignment[0]] if input.alignment else []
        ),
        stand_ins=specs.to_json(STOOD_IN),
        # An option and its value as two words, each quoted; none without a protocol text.
        protocol=(
            ["--protocol", config["audit"]["protocol"]]
            if config["audit"]["protocol"]
            else []
        ),
        alpha=config["report"]["alpha"],
    shell:
        "python -m neuroevo audit --claims {input.claims:q} --runs {input.runs:q} --study {params.studies:q} "
        "--discovery {params.discovery:q} {params.alignment:q} --stand-ins {params.stand_ins:q} "
        "{params.protocol:q} --alpha {params.alpha:q} --out {output.section:q} > {log:q} 2>&1"
