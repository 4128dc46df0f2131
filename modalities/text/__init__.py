"""Text perception: sentence embeddings and text emotion."""
