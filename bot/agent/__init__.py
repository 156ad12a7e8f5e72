"""The agent: a tool-calling loop over an OpenAI-compatible chat model."""
