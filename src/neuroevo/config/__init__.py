"""Configuration, torch-free: run specs, config and spec checks against the schema, search spaces, study and discovery protocols."""
