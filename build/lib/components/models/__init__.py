"""I2I models (masked autoencoder), the feature net, masks, checkpoints and the training loop.

Import the submodules (`from components.models import mae, checkpoint`): this package imports
nothing itself, so torch-free pieces like `configs` stay cheap for the CLI.
"""
