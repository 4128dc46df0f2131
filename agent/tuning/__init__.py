"""The reply model tuned for emotional support: ESConv supporter turns as training examples, a
LoRA adapter trained over the bundled SmolLM2 and written as a GGUF adapter that llama.cpp loads
beside the base model (see :mod:`agent.tuning.format` and :mod:`agent.tuning.lora`)."""

from pathlib import Path

#: The shipped reply adapter (CC BY-NC 4.0: trained on ESConv) and its model card.
ADAPTER_PATH = Path(__file__).with_name("data") / "replies-lora.gguf"
CARD_PATH = ADAPTER_PATH.with_suffix(".json")
