"""OTLP/HTTP: shared plumbing (common.py), record conversion (convert.py), the logs/traces receivers."""
