"""The run store: a SQLite record of runs, recording while they happen, secret redaction, training exports."""
