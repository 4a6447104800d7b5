"""Raw-export schema, ingestion, validation, targets, the leakage guard, splits and the synthetic sample."""
