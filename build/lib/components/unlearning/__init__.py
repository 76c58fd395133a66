"""Unlearning methods for I2I models (ALGORITHMS.md): one loop (`models.training.fit`), one loss per method.

Import the submodules (`from components.unlearning import config, encoder_noise`); this package
imports nothing itself, so the torch-free `config` stays cheap for the CLI.
"""
