"""Analysis: loading finished runs, aggregating them, the statistical tests, ranks, cost to target and gradient alignment."""
