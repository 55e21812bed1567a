"""MCP servers: the config, live catalogs and their connections, server processes, tool specs and
retrieval."""
