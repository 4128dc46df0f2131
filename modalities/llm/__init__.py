"""Language-model backends behind one streaming interface."""

from modalities.llm.base import LLM, GenerationError, LLMCapabilities

__all__ = ["LLM", "GenerationError", "LLMCapabilities"]
