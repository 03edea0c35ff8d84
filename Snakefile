# neuroevo: data -> tune -> train (dataset x optimizer x seed) -> aggregate -> report,
# studies (config/studies/*.yaml) and optimizer discovery (config `discovery`), whose
# sections the report includes. Every path, wildcard and config value in a rule's shell
# command is quoted (`:q`; a list's elements one by one), so none is ever run as shell code.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


# `--config discovery_enabled=false` gives the string "false" (Snakemake's --config reads
# only True and False as booleans): take the lower-case spelling too.
switch = str(config.get("discovery_enabled")).lower()
if switch in ("true", "false"):
    config["discovery_enabled"] = switch == "true"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/cluster.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/budget.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/studies.smk"
include: "workflow/rules/discovery.smk"
include: "workflow/rules/audit.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "results/report/report.md",
        # Runs are targets too, so that a deleted run is redone (Snakemake otherwise
        # skips missing intermediate files whose downstream outputs are up to date).
        all_summaries(),
        all_study_runs(),
        all_comparison_runs(),
