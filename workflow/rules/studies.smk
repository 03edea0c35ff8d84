# Studies (config/studies/NAME.yaml): a few variants x seeds trained with the train
# command, an optional ES gradient-alignment measurement, then results/studies/NAME/study.md
# and its figures. The report includes the sections of the studies listed in `studies`.


rule study_run:
    input:
        data=study_data,
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
        gpu=lambda wildcards: dataset_gpus(study_dataset(wildcards)),
        runtime=lambda wildcards: dataset_run_minutes(study_dataset(wildcards)),
    params:
        spec=study_spec,
        dataset=study_dataset,
        optimizer=study_optimizer,
        out_dir=lambda wildcards, output: Path(output.summary).parent,
    shell:
        "python -m neuroevo train --data {input.data} --dataset {params.dataset} "
        "--optimizer {params.optimizer} --seed {wildcards.seed} --spec {params.spec:q} "
        "--out-dir {params.out_dir} > {log} 2>&1"


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
        "python -m neuroevo study-alignment --data {input.data} --settings {params.settings:q} "
        "--threads {threads} --out {output} > {log} 2>&1"


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
        alignment=lambda wildcards, input: (
            f"--alignment {input.alignment}" if input.alignment else ""
        ),
    shell:
        "python -m neuroevo study-report --name {wildcards.study} --study-json {params.study:q} "
        "{params.alignment} --figures-dir {output.figures} --out {output.section} "
        "{input.summaries} > {log} 2>&1"
