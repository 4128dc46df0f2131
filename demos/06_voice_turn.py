"""06 · Voice in and out: speak, listen, and answer a spoken message with speech.

Attune's own voice says a sentence (written to a WAV file), Whisper transcribes it back with word
timings and prosody, then a whole voice turn runs: the utterance is transcribed, read for
emotion, answered, and the answer is spoken sentence by sentence in a voice fitted to the mood.

    python demos/06_voice_turn.py [OUT_DIR]
"""

import sys
import tempfile
from pathlib import Path

from agent import Attune, load_settings, registry
from modalities.audio import load_audio, to_wav
from modalities.voice.base import join_chunks
from modalities.voice.style import PRESETS


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(paths={"state_dir": out_dir / "state"})

    # 1. speak: the user's message, said sadly, into a WAV file
    tts = registry.create("tts", settings.backends.tts, settings)
    said = "I failed my driving test again. I really thought I was ready this time."
    user_wav = out_dir / "user.wav"
    user_wav.write_bytes(to_wav(join_chunks(list(tts.stream(said, PRESETS["sad"])))))
    print(f"spoken to {user_wav}")

    # 2. listen: transcript with word timings, and the prosody of the voice
    asr = registry.create("asr", settings.backends.asr, settings)
    prosody = registry.create("speech_emotion", settings.backends.speech_emotion, settings)
    audio = load_audio(user_wav)
    transcript = asr.transcribe(audio)
    reading = prosody.analyze(audio, transcript=transcript)
    print(f"heard: {transcript.text.strip()}")
    first = transcript.words[0]
    print(f"first word: {first.word.strip()!r} at {first.start:.2f}-{first.end:.2f} s")
    print(f"prosody: arousal {reading.arousal:.2f}, cues {reading.cues}")

    # 3. a voice turn: audio in, text and speech out
    with Attune(settings) as bot:
        chunks = []
        for event in bot.stream_turn(audio=user_wav.read_bytes(), speak=True):
            if event.type == "audio.chunk":
                chunks.append(event.data["chunk"])
                style = event.data["style"]
                print(
                    f"[audio.chunk] {event.data['chunk'].audio.duration:.2f} s, "
                    f"voice {style['name']} (speed {style['speed']:.2f})"
                )
            elif event.type == "reply.done":
                result = event.data["result"]
                print(f"reply: {result['reply']}")
                print(f"first audio after {result['timings_ms']['first_audio']:.0f} ms of TTS")
    reply_wav = out_dir / "reply.wav"
    reply_wav.write_bytes(to_wav(join_chunks(chunks)))
    print(f"reply spoken to {reply_wav} ({join_chunks(chunks).duration:.1f} s)")


if __name__ == "__main__":
    main()
