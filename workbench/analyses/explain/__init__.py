"""SHAP explanations a product manager can read: values per original column, plots, drift.

Pure functions: nothing here reads config, logs to MLflow or writes files; plots return
``matplotlib.figure.Figure`` objects. shap and matplotlib are imported only when used.
"""

from workbench.analyses.explain._compare import explanation_drift, top_rows
from workbench.analyses.explain._explanation import SCHEMA_VERSION, ExplainError, Explanation, explain, source_columns
from workbench.analyses.explain._plots import plot_beeswarm, plot_importance, plot_waterfall

__all__ = ["SCHEMA_VERSION", "ExplainError", "Explanation", "explain", "explanation_drift", "plot_beeswarm",
           "plot_importance", "plot_waterfall", "source_columns", "top_rows"]
