"""Statistics and reporting toolkit for blood-cancer quality registries."""

__version__ = "0.1.0"
