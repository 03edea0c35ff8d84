# Optimizer discovery (config `discovery`): a GA over update rules per study, resumable from
# its checkpoint (results/discovery/NAME/checkpoint.json); then the discovered rule against
# standard optimizers, each run through the same `train` command as every run; then the
# study's report section.


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


for study_name, study_blocks_ in blocks.comparison_blocks(config).items():
    for block in study_blocks_:

        rule:
            name:
                blocks.block_name("compare_run", block, study_name)
            input:
                data="resources/data/{dataset}.npz",
                genome=lambda wildcards: specs.genome_inputs(
                    comparison_settings(wildcards)
                ),
            output:
                summaries=block_files(
                    "results/discovery/{name}/comparison/{dataset}/{optimizer}",
                    block,
                    "summary.json",
                ),
                histories=block_files(
                    "results/discovery/{name}/comparison/{dataset}/{optimizer}",
                    block,
                    "history.parquet",
                ),
            log:
                f"results/logs/discovery/{{name}}/{{dataset}}/{{optimizer}}/{blocks.seeds_label(block)}.log",
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
                    len(block),
                ),
            params:
                spec=lambda wildcards: specs.to_json(comparison_settings(wildcards)),
                seeds=block,
                runs_dir=lambda wildcards: (
                    f"results/discovery/{wildcards.name}/comparison/{wildcards.dataset}/{wildcards.optimizer}"
                ),
            shell:
                "python -m neuroevo train --data {input.data:q} --dataset {wildcards.dataset:q} "
                "--optimizer {wildcards.optimizer:q} --seeds {params.seeds:q} --spec {params.spec:q} "
                "--runs-dir {params.runs_dir:q} > {log:q} 2>&1"


rule discovery_section:
    input:
        genome="results/discovery/{name}/best_genome.json",
        summary="results/discovery/{name}/summary.json",
        figure="results/discovery/{name}/fitness.png",
        runs=lambda wildcards: comparison_runs(wildcards.name),
    output:
        section="results/discovery/{name}/section.md",
        table="results/discovery/{name}/comparison.parquet",
    log:
        "results/logs/discovery/{name}.section.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        study=lambda wildcards: specs.to_json(config["discovery"][wildcards.name]),
        alpha=config["report"]["alpha"],
        test=config["report"]["test"],
        discovery_dir=lambda wildcards, input: Path(input.genome).parent,
    shell:
        "python -m neuroevo discovery-report --name {wildcards.name:q} --study-json {params.study:q} "
        "--discovery-dir {params.discovery_dir:q} --alpha {params.alpha:q} --test {params.test:q} "
        "--out {output.section:q} {input.runs:q} > {log:q} 2>&1"
