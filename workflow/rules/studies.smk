# Studies (config/studies/NAME.yaml): a few variants x seeds trained with the train
# command, an optional ES gradient-alignment measurement, then results/studies/NAME/study.md
# and its figures. The report includes the sections of the studies listed in `studies`;
# only those are read (an unlisted one is a target once listed: --config 'studies=[NAME]').


for study_name in blocks.study_names(config):
    for block in study_blocks(study_name):

        rule:
            name:
                blocks.block_name("study_run", block, study_name)
            input:
                data=study_data,
                genome=lambda wildcards: specs.genome_inputs(study_settings(wildcards)),
            output:
                summaries=block_files(
                    "results/studies/{study}/{variant}", block, "summary.json"
                ),
                histories=block_files(
                    "results/studies/{study}/{variant}", block, "history.parquet"
                ),
            log:
                f"results/logs/studies/{{study}}/{{variant}}/{blocks.seeds_label(block)}.log",
            wildcard_constraints:
                study=re.escape(study_name),
            group:
                lambda wildcards: specs.run_group(config, study_dataset(wildcards))
            conda:
                "../../envs/neuroevo.yaml"
            threads: lambda wildcards: study_settings(wildcards)["training"]["threads"]
            resources:
                gpu=study_gpus,
                slurm_partition=gpu_partition(study_gpus),
                slurm_account=gpu_account(study_gpus),
                runtime=block_minutes(dataset_run_minutes(study_dataset), len(block)),
            params:
                spec=lambda wildcards: specs.to_json(study_settings(wildcards)),
                dataset=study_dataset,
                optimizer=study_optimizer,
                seeds=block,
                runs_dir=lambda wildcards: f"results/studies/{wildcards.study}/{wildcards.variant}",
            shell:
                "python -m neuroevo train --data {input.data:q} --dataset {params.dataset:q} "
                "--optimizer {params.optimizer:q} --seeds {params.seeds:q} --spec {params.spec:q} "
                "--runs-dir {params.runs_dir:q} > {log:q} 2>&1"


rule study_alignment:
    input:
        data=study_data,
    output:
        "results/studies/{study}/alignment.parquet",
    log:
        "results/logs/studies/{study}/alignment.log",
    conda:
        "../../envs/neuroevo.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards: specs.run_minutes(config, study_dataset(wildcards)),
    params:
        settings=lambda wildcards: specs.alignment_spec(
            config, load_study(wildcards.study)
        ),
    shell:
        "python -m neuroevo study-alignment --data {input.data:q} --settings {params.settings:q} "
        "--threads {threads:q} --out {output:q} > {log:q} 2>&1"


rule study:
    input:
        summaries=lambda wildcards: study_runs(wildcards.study),
        alignment=study_alignment,
    output:
        section="results/studies/{study}/study.md",
        figures=directory("results/studies/{study}/figures"),
    log:
        "results/logs/studies/{study}/study.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        study=lambda wildcards: specs.to_json(load_study(wildcards.study)),
        # An option and its value as two words, each quoted; none without alignment.
        alignment=lambda wildcards, input: (
            ["--alignment", input.alignment] if input.alignment else []
        ),
        missing=lambda wildcards: (
            ["--missing-data", study_missing_data(wildcards.study)]
            if study_missing_data(wildcards.study)
            else []
        ),
        alpha=config["report"]["alpha"],
        margin=config["report"]["equivalence_margin"],
    shell:
        "python -m neuroevo study-report --name {wildcards.study:q} --study-json {params.study:q} "
        "{params.alignment:q} {params.missing:q} --alpha {params.alpha:q} --margin {params.margin:q} "
        "--figures-dir {output.figures:q} --out {output.section:q} {input.summaries:q} > {log:q} 2>&1"
