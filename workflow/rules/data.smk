rule data:
    output:
        "resources/data/{dataset}.npz",
    log:
        "results/logs/data/{dataset}.log",
    conda:
        "../../envs/neuroevo.yaml"
    params:
        data_dir=config["data"]["dir"],
        download="--download" if config["data"]["download"] else "",
        split_seed=config["data"]["split_seed"],
        val_fraction=config["data"]["val_fraction"],
        test_fraction=config["data"]["test_fraction"],
    shell:
        "python -m neuroevo data --dataset {wildcards.dataset} --out {output} "
        "--data-dir {params.data_dir:q} {params.download} --split-seed {params.split_seed} "
        "--val-fraction {params.val_fraction} --test-fraction {params.test_fraction} > {log} 2>&1"
