# Optimizer discovery (config `discovery`): a GA over update rules per study, resumable from
# its checkpoint (results/discovery/NAME/checkpoint.json); then the discovered rule against
# standard optimizers (each also tuned on the GA's tasks and seeds, tune_baseline), each run
# through the training loop of every run (the compare command); then the study's section.


rule discover:
    input:
        unpack(discovery_data),
    output:
        genome="results/discovery/{name}/best_genome.json",
        history="results/discovery/{name}/history.parquet",
        figure="results/discovery/{name}/fitness.png",
        summary="results/discovery/{name}/summary.json",
    log:
        "results/logs/discovery/{name}.log",
    conda:
        "../../envs/neuroevo.yaml"
    threads: 1
    resources:
        gpu=discovery_gpus,
        slurm_partition=gpu_partition(discovery_gpus),
        slurm_account=gpu_account(discovery_gpus),
        runtime=config["cluster"]["run_minutes"],  # a study cut off resumes when resubmitted
    params:
        study=lambda wildcards: specs.discovery_ga_spec(config, wildcards.name),
        # DATASET=PATH words, each quoted by the shell command's :q.
        data=lambda wildcards, input: [f"{name}={path}" for name, path in input.items()],
        out_dir=lambda wildcards, output: Path(output.genome).parent,
    shell:
        "python -m neuroevo discover --study-json {params.study:q} --data {params.data:q} "
        "--threads {threads:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule tune_baseline:
    input:
        unpack(discovery_data),
    output:
        best="results/discovery/{name}/tuning/{optimizer}.json",
        trials="results/discovery/{name}/tuning/{optimizer}.trials.parquet",
    log:
        "results/logs/discovery/{name}/tuning/{optimizer}.log",
    conda:
        "../../envs/neuroevo.yaml"
    threads: 1
    resources:
        gpu=discovery_gpus,
        slurm_partition=gpu_partition(discovery_gpus),
        slurm_account=gpu_account(discovery_gpus),
        runtime=config["cluster"]["run_minutes"],  # a study cut off resumes when resubmitted
    params:
        study=lambda wildcards: specs.discovery_ga_spec(config, wildcards.name),
        tuning=lambda wildcards: specs.baseline_tuning_spec(
            config, wildcards.name, wildcards.optimizer
        ),
        data=lambda wildcards, input: [f"{name}={path}" for name, path in input.items()],
        # The Optuna journal is not an output, so a killed job's trials survive for the rerun.
        storage=lambda wildcards, output: Path(output.best).with_suffix(".journal"),
    shell:
        "python -m neuroevo tune-baseline --study-json {params.study:q} --optimizer {wildcards.optimizer:q} "
        "--tuning-json {params.tuning:q} --data {params.data:q} --threads {threads:q} "
        "--storage {params.storage:q} --out {output.best:q} --trials-out {output.trials:q} > {log:q} 2>&1"


# One job per task and block of seeds trains every label (the optimizers, then the tuned
# baselines) in one process: a run takes about half a second on the CPU, starting torch and its
# optimizers three. Runs of unchanged settings are restored, not retrained, when a job reruns.
for study_name, study_blocks_ in blocks.comparison_blocks(config).items():
    study_labels = discovery_labels(config["discovery"][study_name])
    for block in study_blocks_:

        rule:
            name:
                blocks.block_name("compare_run", block, study_name)
            input:
                data=comparison_data,
                inputs=comparison_inputs,
            output:
                summaries=[
                    f"results/discovery/{{name}}/comparison/{{task}}/{label}/{seed}/summary.json"
                    for label in study_labels
                    for seed in block
                ],
                histories=[
                    f"results/discovery/{{name}}/comparison/{{task}}/{label}/{seed}/history.parquet"
                    for label in study_labels
                    for seed in block
                ],
            log:
                f"results/logs/discovery/{{name}}/{{task}}/{blocks.seeds_label(block)}.log",
            wildcard_constraints:
                name=re.escape(study_name),
            group:  # CPU comparison runs take seconds: on a cluster several share a submission
                lambda wildcards: None if discovery_gpus(wildcards) else "short_runs"
            conda:
                "../../envs/neuroevo.yaml"
            threads: 1
            resources:
                gpu=discovery_gpus,
                slurm_partition=gpu_partition(discovery_gpus),
                slurm_account=gpu_account(discovery_gpus),
                runtime=block_minutes(
                    lambda wildcards: config["cluster"]["short_run_minutes"],
                    len(block) * len(study_labels),
                ),
            params:
                jobs=lambda wildcards: specs.to_json(comparison_jobs(wildcards)),
                dataset=lambda wildcards: specs.comparison_dataset(
                    config, wildcards.name, wildcards.task
                ),
                seeds=block,
                runs_dir=lambda wildcards: (
                    f"results/discovery/{wildcards.name}/comparison/{wildcards.task}"
                ),
            shell:
                "python -m neuroevo compare --data {input.data:q} --dataset {params.dataset:q} "
                "--seeds {params.seeds:q} --jobs-json {params.jobs:q} --runs-dir {params.runs_dir:q} > {log:q} 2>&1"


rule discovery_section:
    input:
        ga=lambda wildcards: specs.discovery_ga_outputs(config, wildcards.name),
        runs=lambda wildcards: comparison_runs(wildcards.name),
        tuning=lambda wildcards: specs.tuning_results_of(config, wildcards.name),
    output:
        section="results/discovery/{name}/section.md",
        table="results/discovery/{name}/comparison.parquet",
        verdicts="results/discovery/{name}/comparison_verdicts.parquet",
    log:
        "results/logs/discovery/{name}.section.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        study=lambda wildcards: specs.to_json(config["discovery"][wildcards.name]),
        alpha=config["report"]["alpha"],
        margin=config["report"]["equivalence_margin"],
        discovery_dir=lambda wildcards: f"results/discovery/{wildcards.name}",
    shell:
        "python -m neuroevo discovery-report --name {wildcards.name:q} --study-json {params.study:q} "
        "--discovery-dir {params.discovery_dir:q} --alpha {params.alpha:q} --margin {params.margin:q} "
        "--tuning {input.tuning:q} --out {output.section:q} {input.runs:q} > {log:q} 2>&1"
