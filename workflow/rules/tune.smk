rule tune:
    input:
        data="resources/data/{dataset}.npz",
        genome=run_genome,
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
        # Trials follow the early-stopping protocol: never the equal-budget arm's B.
        spec=lambda wildcards: specs.early_stopping_spec(
            config, wildcards.dataset, wildcards.optimizer
        ),
        search_space=lambda wildcards: specs.search_space_spec(
            config, wildcards.optimizer
        ),
        seeds=",".join(str(seed) for seed in config["tuning"]["seeds"]),
        trials=lambda wildcards: specs.tuning_trials(config, wildcards.optimizer),
        startup_trials=config["tuning"]["startup_trials"],
        study_seed=config["tuning"]["study_seed"],
        pruning="on" if config["tuning"]["pruning"] else "off",
        # The Optuna journal is not an output, so a killed job's trials survive for the rerun.
        storage=lambda wildcards, output: Path(output.best).with_suffix(".journal"),
    shell:
        "python -m neuroevo tune --data {input.data:q} --dataset {wildcards.dataset:q} "
        "--optimizer {wildcards.optimizer:q} --spec {params.spec:q} "
        "--search-space {params.search_space:q} --seeds {params.seeds:q} --trials {params.trials:q} "
        "--startup-trials {params.startup_trials:q} --study-seed {params.study_seed:q} --pruning {params.pruning:q} "
        "--storage {params.storage:q} --out {output.best:q} --trials-out {output.trials:q} > {log:q} 2>&1"
