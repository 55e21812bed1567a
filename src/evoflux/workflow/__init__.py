"""The typed workflow graph: references, parsing, static validation, execution over a catalog, traces,
answers."""
