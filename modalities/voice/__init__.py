"""Speaking: text-to-speech backends and the affect-to-voice style table."""
