"""Sections of the documents, one module per topic."""
