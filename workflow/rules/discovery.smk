# Optimizer discovery (config `discovery`): a GA over update rules per study, resumable from
# its checkpoint (results/discovery/NAME/checkpoint.json).


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
        runtime=config["cluster"]["run_minutes"],  # a study cut off resumes when resubmitted
    params:
        study=lambda wildcards: json.dumps(
            config["discovery"][wildcards.name], sort_keys=True
        ),
        data=lambda wildcards, input: " ".join(
            f"{name}={path}" for name, path in input.items()
        ),
        out_dir=lambda wildcards, output: Path(output.genome).parent,
    shell:
        "python -m neuroevo discover --study-json {params.study:q} --data {params.data} "
        "--threads {threads} --out-dir {params.out_dir} > {log} 2>&1"
