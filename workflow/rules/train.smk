rule train:
    input:
        data="resources/data/{dataset}.npz",
        tuned=tuning_results,
        genome=run_genome,
    output:
        summary="results/runs/{dataset}/{optimizer}/{seed}/summary.json",
        history="results/runs/{dataset}/{optimizer}/{seed}/history.parquet",
    log:
        "results/logs/train/{dataset}/{optimizer}/{seed}.log",
    group:
        lambda wildcards: specs.run_group(config, wildcards.dataset)
    conda:
        "../../envs/neuroevo.yaml"
    threads: lambda wildcards: specs.run_threads(config, wildcards.dataset)
    resources:
        gpu=run_gpus,
        slurm_partition=gpu_partition(run_gpus),
        slurm_account=gpu_account(run_gpus),
        runtime=lambda wildcards: specs.run_minutes(config, wildcards.dataset),
    params:
        spec=run_spec,
        out_dir=lambda wildcards, output: Path(output.summary).parent,
        # An option and its value as two words, each quoted; none without tuning.
        tuned=lambda wildcards, input: ["--tuned", input.tuned] if input.tuned else [],
        tracking=config["tracking"],
        tracking_project=config["tracking_project"],
    shell:
        "python -m neuroevo train --data {input.data:q} --dataset {wildcards.dataset:q} "
        "--optimizer {wildcards.optimizer:q} --seed {wildcards.seed:q} --spec {params.spec:q} "
        "{params.tuned:q} --tracking {params.tracking:q} --tracking-project {params.tracking_project:q} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1"
