"""Wiring: the CLI, the training pipeline and (later) Prefect flows built from `components`."""
