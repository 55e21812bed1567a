"""BFCL v4 multi-turn as an Evoflux benchmark: BFCL's backend classes served as MCP servers, one entry
run as one conversation turn by turn, and BFCL's own checker (from `bfcl-eval`) scoring the calls."""
