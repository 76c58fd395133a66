"""What serve's forkserver imports once, so that the flow runs it forks start warm (flows/warm_runs.py).

Imported by the forkserver only: importing it *is* the preload. A module that fails to import, with
any error (the forkserver itself skips only ImportError, and a broken native library would take it
down), is logged and skipped; a run that needs it imports it itself, as a cold run would.
"""

import importlib
import logging

# What a batch imports, heaviest first; MLflow's SQL stores import alembic on first use (0.65 s of a
# run's first registry connection otherwise).
MODULES = [
    "torch",
    "great_expectations",
    "mlflow",
    "mlflow.pyfunc",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "alembic.command",
    "alembic.autogenerate",
    "alembic.runtime.migration",
    "dvc.repo",
    "torchmetrics",
    "matplotlib",
    "pandas",
    "flows.service",
    "flows.deletion_batch",
    "flows.batch_steps",
    "flows.compliance.index",
    "flows.data_commit",
    "flows.report",
    "flows.compliance.purge",
    "components.models",
    "components.unlearning",
    "components.evaluation",
    "components.registry",
    "components.validation",
]

for _name in MODULES:
    try:
        importlib.import_module(_name)
    except Exception:
        logging.getLogger(__name__).warning("forkserver: could not preload %s", _name, exc_info=True)
