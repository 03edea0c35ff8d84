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
        "python -m neuroevo data --dataset {wildcards.dataset:q} --out {output:q} "
        "--data-dir {params.data_dir:q} {params.download:q} --split-seed {params.split_seed:q} "
        "--val-fraction {params.val_fraction:q} --test-fraction {params.test_fraction:q} > {log:q} 2>&1"
