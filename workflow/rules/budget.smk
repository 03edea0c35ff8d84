# The equal-budget ladder's base budget B, per dataset with a budget_flops: pilot runs of the
# gradient optimizers under early stopping (blocks of seeds, as the main runs), then the budget
# job, whose file every main run of the dataset reads its rung marks from (input functions:
# common.smk).


for block in blocks.main_blocks(config):

    rule:
        name:
            blocks.block_name("pilot", block)
        input:
            data="resources/data/{dataset}.npz",
            tuned=tuning_results,
            genome=run_genome,
        output:
            summaries=block_files(
                "results/pilot/{dataset}/{optimizer}", block, "summary.json"
            ),
            histories=block_files(
                "results/pilot/{dataset}/{optimizer}", block, "history.parquet"
            ),
        log:
            f"results/logs/pilot/{{dataset}}/{{optimizer}}/{blocks.seeds_label(block)}.log",
        group:
            lambda wildcards: specs.run_group(config, wildcards.dataset)
        conda:
            "../../envs/neuroevo.yaml"
        threads: lambda wildcards: specs.run_threads(config, wildcards.dataset)
        resources:
            gpu=run_gpus,
            slurm_partition=gpu_partition(run_gpus),
            slurm_account=gpu_account(run_gpus),
            runtime=block_minutes(
                dataset_run_minutes(lambda wildcards: wildcards.dataset), len(block)
            ),
        params:
            spec=lambda wildcards: specs.early_stopping_spec(
                config, wildcards.dataset, wildcards.optimizer
            ),
            seeds=block,
            runs_dir=lambda wildcards: f"results/pilot/{wildcards.dataset}/{wildcards.optimizer}",
            tuned=lambda wildcards, input: (
                ["--tuned", input.tuned] if input.tuned else []
            ),
        shell:
            "python -m neuroevo train --data {input.data:q} --dataset {wildcards.dataset:q} "
            "--optimizer {wildcards.optimizer:q} --seeds {params.seeds:q} --spec {params.spec:q} "
            "{params.tuned:q} --runs-dir {params.runs_dir:q} > {log:q} 2>&1"


rule budget:
    input:
        unpack(pilot_inputs),
    output:
        "results/budget/{dataset}.json",
    log:
        "results/logs/budget/{dataset}.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        settings=lambda wildcards: specs.budget_job_spec(config, wildcards.dataset),
    shell:
        "python -m neuroevo budget --dataset {wildcards.dataset:q} --pilot {input.summaries:q} "
        "--settings {params.settings:q} --out {output:q} > {log:q} 2>&1"
