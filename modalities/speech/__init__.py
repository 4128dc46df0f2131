"""Hearing: speech recognition, endpointing and speech emotion.

``base`` holds the interfaces; ``segmenter`` cuts a live stream into utterances; ``whisper``,
``prosody`` and ``hf_audio`` are backends. Importing this package loads no model and no heavy
library.
"""
