"""Language-model backends behind one streaming interface."""

from agent.llm.base import LLM, LLMCapabilities

__all__ = ["LLM", "LLMCapabilities"]
