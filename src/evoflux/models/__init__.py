"""Language models: the backend-neutral layer, the embedded and OpenAI-compatible backends, the model
registry."""
