"""An artifact's explainer and raw-field attribution, built for its estimator.

The explainers know the model families; the artifact only calls the explainer it carries, so
``severity.models`` never imports ``severity.explain``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from severity.explain.explainers import explainer_for
from severity.explain.raw_fields import attribution_matrix

if TYPE_CHECKING:
    import pandas as pd

    from severity.models.artifact import SeverityModel


def attach_explainer(model: SeverityModel, background: pd.DataFrame) -> SeverityModel:
    """Give ``model`` the explainer for its estimator, with ``background`` (model-input rows) as its reference; returns it."""
    model.explainer = explainer_for(model.estimator, model.feature_columns, background[model.feature_columns])
    model.raw_field_attribution = attribution_matrix(model.feature_columns, model.feature_engineer.lineage())
    return model
