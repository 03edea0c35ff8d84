"""Evolutionary discovery of optimizer update rules (the optimizer-discovery write-up): the
GA's operators over update-rule genomes."""
