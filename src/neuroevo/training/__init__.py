"""Training: the one loop every optimizer runs through, its fitness of a finished run, kept results, tracking and tuning."""
