"""The planner: prompts and a language model turned into workflows, edits, answers and verdicts."""
