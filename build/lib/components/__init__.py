"""Pure building blocks of forgetflow: no Prefect, and MLflow only in `components.registry`."""
