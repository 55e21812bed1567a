"""Structured edits of workflows: the operator registry; argument, reference and structure edits; model-guided
edits."""
