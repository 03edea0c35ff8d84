# Studies (config/studies/NAME.yaml): a few variants x seeds trained with the train
# command, an optional ES gradient-alignment measurement, then results/studies/NAME/study.md
# and its figures. The report includes the sections of the studies listed in `studies`.


rule study_run:
    input:
        data=study_data,
        genome=study_genome,
    output:
        summary="results/studies/{study}/{variant}/{seed}/summary.json",
        history="results/studies/{study}/{variant}/{seed}/history.parquet",
    log:
        "results/logs/studies/{study}/{variant}/{seed}.log",
    group:
        lambda wildcards: run_group(study_dataset(wildcards))
    conda:
        "../../envs/neuroevo.yaml"
    threads: study_run_threads
    resources:
        gpu=study_gpus,
        slurm_partition=gpu_partition(study_gpus),
        slurm_account=gpu_account(study_gpus),
        runtime=lambda wildcards: dataset_run_minutes(study_dataset(wildcards)),
    params:
        spec=study_spec,
        dataset=study_dataset,
        optimizer=study_optimizer,
        out_dir=lambda wildcards, output: Path(output.summary).parent,
    shell:
        "python -m neuroevo train --data {input.data:q} --dataset {params.dataset:q} "
        "--optimizer {params.optimizer:q} --seed {wildcards.seed:q} --spec {params.spec:q} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1"


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
        runtime=lambda wildcards: dataset_run_minutes(study_dataset(wildcards)),
    params:
        settings=lambda wildcards: json.dumps(
            alignment_settings(load_study(wildcards.study), config), sort_keys=True
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
        study=lambda wildcards: json.dumps(load_study(wildcards.study), sort_keys=True),
        # An option and its value as two words, each quoted; none without alignment.
        alignment=lambda wildcards, input: (
            ["--alignment", input.alignment] if input.alignment else []
        ),
    shell:
        "python -m neuroevo study-report --name {wildcards.study:q} --study-json {params.study:q} "
        "{params.alignment:q} --figures-dir {output.figures:q} --out {output.section:q} "
        "{input.summaries:q} > {log:q} 2>&1"
