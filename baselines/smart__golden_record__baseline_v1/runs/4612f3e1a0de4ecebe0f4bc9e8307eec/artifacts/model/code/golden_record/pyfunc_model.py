"""The MLflow pyfunc model, logged as code (models-from-code: nothing is pickled).

MLflow executes this file when the model is loaded; the package itself travels with the model
as ``code_paths``, so ``mlflow.pyfunc.load_model`` works wherever the pinned requirements are
installed.
"""
import mlflow

from golden_record.linkage.scoring import python_model

mlflow.models.set_model(python_model())
