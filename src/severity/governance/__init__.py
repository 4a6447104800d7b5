"""Governance: model cards, the promotion gate with recorded approval, rollback, A/B evaluation, the `severity` command."""
