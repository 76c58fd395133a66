"""Evaluation: masked-region metrics, forget-vs-retain quality, quality gates, image grids.

Import the submodules (`from components.evaluation import forgetting, gates`); this package
imports nothing itself, so the torch-free `gates` stays cheap for the CLI.
"""
