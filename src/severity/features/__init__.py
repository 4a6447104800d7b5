"""Feature engineering: one fitted transformer (:class:`AviationFeatureEngineer`) of named feature groups.

Knows nothing of Kedro or BentoML: training, batch scoring and the service all use it as is.
"""

from severity.features.transformer import AviationFeatureEngineer, FeatureSettings

__all__ = ["AviationFeatureEngineer", "FeatureSettings"]
