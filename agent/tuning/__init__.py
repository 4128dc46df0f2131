"""The reply model tuned for emotional support: ESConv supporter turns as training examples, a
LoRA adapter trained over the bundled SmolLM2 and written as a GGUF adapter that llama.cpp loads
beside the base model (see :mod:`agent.tuning.format` and :mod:`agent.tuning.lora`)."""

from modalities.llm.models import ADAPTER_PATH, CARD_PATH

__all__ = ["ADAPTER_PATH", "CARD_PATH"]
