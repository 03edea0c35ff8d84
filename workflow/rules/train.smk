rule train:
    input:
        data="resources/data/{dataset}.npz",
        tuned=tuning_results,
    output:
        summary="results/runs/{dataset}/{optimizer}/{seed}/summary.json",
        history="results/runs/{dataset}/{optimizer}/{seed}/history.parquet",
    log:
        "results/logs/train/{dataset}/{optimizer}/{seed}.log",
    group:
        train_group
    conda:
        "../../envs/neuroevo.yaml"
    threads: run_threads
    resources:
        gpu=gpus_for_run,
        runtime=run_minutes,
    params:
        spec=run_spec,
        out_dir=lambda wildcards, output: Path(output.summary).parent,
        tuned=lambda wildcards, input: f"--tuned {input.tuned}" if input.tuned else "",
        tracking=tracking_arguments(),
    shell:
        "python -m neuroevo train --data {input.data} --dataset {wildcards.dataset} "
        "--optimizer {wildcards.optimizer} --seed {wildcards.seed} --spec {params.spec:q} "
        "{params.tuned} --tracking {params.tracking} --out-dir {params.out_dir} > {log} 2>&1"
