"""MLflow: the store, one run lifecycle, failures and stale runs, model registry, baselines, reports, plots."""
