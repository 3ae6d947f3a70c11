"""Syncline: application connectors that never lose data."""

__version__ = "0.1.0"
