# The main runs, in blocks of `runs_per_job` consecutive seeds: one rule per block of seeds
# (train_seeds_0_to_9), for every dataset x optimizer; each run in its own folder.


for block in blocks.main_blocks(config):

    rule:
        name:
            blocks.block_name("train", block)
        input:
            data="resources/data/{dataset}.npz",
            tuned=tuning_results,
            genome=run_genome,
            budget=run_budget,
        output:
            summaries=block_files(
                "results/runs/{dataset}/{optimizer}", block, "summary.json"
            ),
            histories=block_files(
                "results/runs/{dataset}/{optimizer}", block, "history.parquet"
            ),
        log:
            f"results/logs/train/{{dataset}}/{{optimizer}}/{blocks.seeds_label(block)}.log",
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
            spec=run_spec,
            seeds=block,
            runs_dir=lambda wildcards: f"results/runs/{wildcards.dataset}/{wildcards.optimizer}",
            # An option and its value as two words, each quoted; none without tuning.
            tuned=lambda wildcards, input: (
                ["--tuned", input.tuned] if input.tuned else []
            ),
            budget=lambda wildcards, input: (
                ["--budget", input.budget] if input.budget else []
            ),
            tracking=config["tracking"],
            tracking_project=config["tracking_project"],
        shell:
            "python -m neuroevo train --data {input.data:q} --dataset {wildcards.dataset:q} "
            "--optimizer {wildcards.optimizer:q} --seeds {params.seeds:q} --spec {params.spec:q} "
            "{params.tuned:q} {params.budget:q} --tracking {params.tracking:q} --tracking-project {params.tracking_project:q} "
            "--runs-dir {params.runs_dir:q} > {log:q} 2>&1"
