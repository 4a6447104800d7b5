"""severity: predict, explain, serve and monitor aviation accident severity."""

__version__ = "0.1.0"
