rule tune:
    input:
        data="resources/data/{dataset}.npz",
    output:
        best="results/tuning/{dataset}/{optimizer}.json",
        trials="results/tuning/{dataset}/{optimizer}.trials.parquet",
    log:
        "results/logs/tune/{dataset}/{optimizer}.log",
    conda:
        "../../envs/neuroevo.yaml"
    threads: 1
    resources:
        runtime=config["cluster"]["run_minutes"],  # a study cut off resumes when resubmitted
    params:
        spec=run_spec,
        search_space=lambda wildcards: json.dumps(
            config["tuning"]["search_spaces"][wildcards.optimizer], sort_keys=True
        ),
        seeds=",".join(str(seed) for seed in config["tuning"]["seeds"]),
        trials=config["tuning"]["trials"],
        startup_trials=config["tuning"]["startup_trials"],
        study_seed=config["tuning"]["study_seed"],
        # The Optuna journal is not an output, so a killed job's trials survive for the rerun.
        storage=lambda wildcards, output: Path(output.best).with_suffix(".journal"),
    shell:
        "python -m neuroevo tune --data {input.data} --dataset {wildcards.dataset} "
        "--optimizer {wildcards.optimizer} --spec {params.spec:q} "
        "--search-space {params.search_space:q} --seeds {params.seeds} --trials {params.trials} "
        "--startup-trials {params.startup_trials} --study-seed {params.study_seed} "
        "--storage {params.storage} --out {output.best} --trials-out {output.trials} > {log} 2>&1"
