"""Optimizer update rules as genomes (the evolutionary optimizer discovery write-up): the
genome, and the torch optimizer that runs one."""

from neuroevo.update_rules.genome import PRIOR_GENOME, TERM_TYPES, Genome
from neuroevo.update_rules.genome_optimizer import GenomeOptimizer

__all__ = ["Genome", "GenomeOptimizer", "PRIOR_GENOME", "TERM_TYPES"]
