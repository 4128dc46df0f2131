"""The public API: :class:`Attune` runs empathetic turns for sessions that persist."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.context import AttuneContext, TurnMedia
from agent.graph import build_graph
from agent.privacy import forget_session, list_sessions, prune_sessions
from agent.safety.detector import CrisisDetector
from agent.sessions import open_sqlite_store
from agent.speech import SpeechStage
from agent.state import AttuneState, new_turn_input
from attune import registry
from attune.bridge import Bridge
from attune.errors import ConfigError, InputError
from attune.settings import AttuneSettings
from attune.taxonomy import Strategy, normalize_strategy
from attune.types import (
    TURN_EVENTS,
    Audio,
    ChatMessage,
    FaceReading,
    ReplyDoneEvent,
    SessionInfo,
    Transcript,
    TurnEvent,
    TurnResult,
)
from modalities.llm.base import LLM
from modalities.text.base import Embedder, TextEmotionRecognizer
from strategies.base import StrategyPlanner

log = logging.getLogger(__name__)
_SESSION_ID_MAX = 128


def validate_text(text: object, max_chars: int) -> str:
    """The user's text, normalised, or an :class:`InputError` that says what is wrong."""
    if not isinstance(text, str):
        raise InputError("bad_type", f"text must be a string, not {type(text).__name__}")
    cleaned = unicodedata.normalize("NFC", text)
    # control characters (except newline and tab) carry no meaning and confuse tokenizers
    cleaned = "".join(c for c in cleaned if c in "\n\t" or unicodedata.category(c)[0] != "C")
    cleaned = cleaned.strip()
    if not cleaned:
        raise InputError("empty_text", "the message is empty; please type something")
    if len(cleaned) > max_chars:
        raise InputError(
            "text_too_long",
            f"the message is {len(cleaned)} characters long; the limit is {max_chars}",
        )
    return cleaned


def validate_session_id(session_id: str) -> str:
    """A session id is 1-128 characters of letters, digits, '-', '_' or '.'."""
    ok = (
        isinstance(session_id, str)
        and 0 < len(session_id) <= _SESSION_ID_MAX
        and all(c.isascii() and (c.isalnum() or c in "-_.") for c in session_id)
    )
    if not ok:
        raise InputError(
            "bad_session_id",
            f"a session id is 1-{_SESSION_ID_MAX} characters of letters, digits, '-', '_', '.'",
        )
    return session_id


def new_session_id() -> str:
    """A fresh random session id."""
    return uuid.uuid4().hex


class Attune:
    """An empathetic conversational agent: perception, chain of empathy, strategy, reply.

    Backends come from the registry by the names in ``settings.backends`` unless given here.
    Construction is cheap; models load on first use or in :meth:`load`. Thread-safe: turns of the
    same instance run one at a time.

    Every turn passes the crisis check (``safety``: by default the hybrid
    :class:`~agent.safety.detector.CrisisDetector` over the shared embedder). On start, sessions
    untouched for longer than ``settings.safety.retention_days`` are deleted.
    """

    def __init__(
        self,
        settings: AttuneSettings | None = None,
        *,
        embedder: Embedder | None = None,
        text_emotion: TextEmotionRecognizer | None = None,
        llm: LLM | None = None,
        planner: StrategyPlanner | None = None,
        checkpointer: BaseCheckpointSaver[str] | None = None,
        safety: CrisisDetector | None = None,
        asr: Any | None = None,
        speech_emotion: Any | None = None,
        tts: Any | None = None,
        face: Any | None = None,
        avatar: Any | None = None,
    ) -> None:
        self.settings = settings or AttuneSettings()
        names = self.settings.backends
        if embedder is None:
            embedder = registry.create("embedder", names.embedder, self.settings)
        if text_emotion is None:
            text_emotion = registry.create(
                "text_emotion", names.text_emotion, self.settings, **_shared(names, embedder)
            )
        if llm is None:
            llm = registry.create("llm", names.llm, self.settings)
        if planner is None:
            # every planner accepts the shared handles and ignores those it does not use
            planner = registry.create(
                "strategy_planner",
                names.strategy_planner,
                self.settings,
                embedder=embedder,
                llm=llm,
            )
        self.context = AttuneContext(
            settings=self.settings,
            embedder=embedder,
            text_emotion=text_emotion,
            llm=llm,
            planner=planner,
            safety=safety or CrisisDetector.from_settings(self.settings, embedder),
            modality_backends={
                role: backend
                for role, backend in (
                    ("asr", asr),
                    ("speech_emotion", speech_emotion),
                    ("tts", tts),
                    ("face", face),
                    ("avatar", avatar),
                )
                if backend is not None
            },
        )
        self.checkpointer = checkpointer or open_sqlite_store(self.settings.paths.session_db_path())
        self.graph = build_graph(self.checkpointer)
        self._lock = threading.Lock()
        self.prune_sessions()

    def load(self, modalities: tuple[str, ...] = ()) -> None:
        """Load every model of the text stack now rather than on the first turn, plus those of
        the other ``modalities`` named (``asr``, ``speech_emotion``, ``tts``, ``face``)."""
        self.context.embedder.load()
        self.context.text_emotion.load()
        self.context.crisis_detector.load()
        self.context.planner.load()
        self.context.llm.load()
        for role in modalities:
            self.context.backend(role).load()

    def close(self) -> None:
        """Release the LLM and the session store."""
        self.context.llm.close()
        conn = getattr(self.checkpointer, "conn", None)
        if conn is not None:
            conn.close()

    def __enter__(self) -> Attune:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- turns -------------------------------------------------------------------------------

    def turn(
        self,
        text: str | None = None,
        session_id: str | None = None,
        *,
        audio: Audio | bytes | str | Path | None = None,
        image: Any | None = None,
        speak: bool = False,
        avatar: bool = False,
        video: bool = False,
        strategy: Strategy | str | None = None,
    ) -> TurnResult:
        """Run one turn and return everything it produced (see :meth:`stream_turn`).

        The spoken reply, when ``speak`` is set, comes as ``audio.chunk`` events of
        :meth:`stream_turn`; :func:`modalities.voice.base.join_chunks` makes one clip of them.
        """
        result: TurnResult | None = None
        events = self.stream_turn(
            text,
            session_id,
            audio=audio,
            image=image,
            speak=speak,
            avatar=avatar,
            video=video,
            strategy=strategy,
        )
        for event in events:
            if isinstance(event, ReplyDoneEvent):
                result = event.result
        assert result is not None  # stream_turn always ends with reply.done
        return result

    def stream_turn(
        self,
        text: str | None = None,
        session_id: str | None = None,
        *,
        audio: Audio | bytes | str | Path | None = None,
        image: Any | None = None,
        speak: bool = False,
        avatar: bool = False,
        video: bool = False,
        cancel: threading.Event | None = None,
        strategy: Strategy | str | None = None,
        transcript: Transcript | None = None,
    ) -> Iterator[TurnEvent]:
        """Run one turn, yielding its events as they happen (see :class:`TurnEvent`).

        A turn carries typed ``text``, an utterance (``audio``: an :class:`Audio`, encoded
        WAV/FLAC/OGG bytes or a file path; its transcript becomes the message), or both; an
        ``image`` (camera frame: encoded bytes, a path or an RGB array) adds the face. With
        ``speak`` the reply is also synthesised (``audio.chunk`` events, one per sentence); with
        ``avatar`` each sentence also brings its ``avatar.cues`` timeline; with ``video`` the
        reply is rendered as a talking-head MP4 (``avatar.video``, its path). ``video`` implies
        ``avatar``, which implies ``speak``.

        Input is validated before anything runs: a bad message, undecodable audio or image
        raises :class:`InputError` and leaves the session as it was. Raw audio and images are
        used for this turn only and never stored.

        ``cancel`` interrupts the turn (barge-in): once set, generation stops at the next safe
        point (between LLM tokens or candidates, between spoken sentences), the history keeps the
        user's message and whatever reply was generated (none if the reply had not begun), and
        ``reply.done`` says ``interrupted``. A client that played only part of the reply then
        calls :meth:`truncate_reply` with what was heard.

        ``strategy`` imposes this turn's support strategy (any spelling of the 8 ESConv names)
        instead of the planner's: evaluation with the gold strategy, studies of one strategy.
        The crisis reply still overrides it.

        ``transcript`` is what was said in ``audio`` when it was already recognised (as the
        server does while the person speaks): the turn uses it instead of transcribing again.
        """
        given = None
        if strategy is not None:
            try:
                given = normalize_strategy(strategy)
            except ValueError as exc:
                raise InputError("bad_strategy", str(exc)) from exc
        if text is None and audio is None:
            raise InputError("empty_turn", "a turn needs text or audio")
        text = None if text is None else validate_text(text, self.settings.chat.max_input_chars)
        decoded = self._audio(audio)
        media = TurnMedia(
            audio=decoded,
            image=self._image(image),
            transcript=transcript if decoded is not None else None,
        )
        session_id = validate_session_id(new_session_id() if session_id is None else session_id)
        inputs = [
            kind
            for kind, value in (("text", text), ("audio", media.audio), ("image", media.image))
            if value is not None
        ]
        turn_id = uuid.uuid4().hex[:12]
        config: Any = {"configurable": {"thread_id": session_id}}
        started = time.perf_counter()
        graph_input = new_turn_input(
            turn_id, text, inputs=inputs, speak=speak, avatar=avatar, video=video, strategy=given
        )
        with self._lock:
            context = self.context.for_turn(media, cancel)
            speech = (
                SpeechStage(context, turn_id, avatar=avatar, video=video)
                if graph_input.get("speak")
                else None
            )
            first_audio: float | None = None
            kept: list[AttuneState] = []  # the graph's final state, read once
            for event in self._turn_events(graph_input, config, context, speech, kept):
                if first_audio is None and event.type == "audio.chunk":
                    first_audio = (time.perf_counter() - started) * 1000
                yield event.model_copy(update={"turn_id": turn_id})
            state = kept[0]
        total_ms = (time.perf_counter() - started) * 1000
        spoken = speech.timings_ms if speech is not None else {}
        timings = {**state.get("timings_ms", {}), **spoken, "total": total_ms}
        if first_audio is not None:  # from the start of the turn to the first reply audio
            timings["to_first_audio"] = first_audio
        log.info("turn %s done in %.0f ms", turn_id, total_ms)
        result = TurnResult(
            session_id=session_id,
            turn_id=turn_id,
            reply=state.get("reply") or "",
            text_emotion=state.get("text_emotion"),
            transcript=state.get("transcript"),
            speech_emotion=state.get("speech_emotion"),
            face=state.get("face"),
            affect=state.get("affect"),
            appraisal=state.get("appraisal"),
            strategy=state.get("strategy"),
            safety=state.get("safety"),
            reply_check=state.get("reply_check"),
            video_path=speech.video_path if speech is not None else None,
            interrupted=cancel is not None and cancel.is_set(),
            timings_ms=timings,
        )
        yield ReplyDoneEvent(turn_id=turn_id, text=result.reply, result=result)

    def _audio(self, audio: Audio | bytes | str | Path | None) -> Audio | None:
        """The turn's audio as 16 kHz mono within ``speech.max_turn_seconds``."""
        if audio is None:
            return None
        from modalities.audio import load_audio, resample

        limit = self.settings.speech.max_turn_seconds
        if isinstance(audio, Audio):
            if audio.duration > limit:
                raise InputError(
                    "audio_too_long",
                    f"the audio is {audio.duration:.0f} s long; the limit is {limit:.0f} s",
                )
            return audio if audio.sample_rate == 16000 else resample(audio, 16000)
        return load_audio(audio, target_rate=16000, max_seconds=limit)

    def _image(self, image: Any | None) -> Any | None:
        """The turn's image decoded and checked against the ``face`` limits (RGB array)."""
        if image is None:
            return None
        from modalities.face.image import load_image

        face = self.settings.face
        return load_image(
            image,
            max_bytes=face.max_bytes,
            max_decoded_pixels=face.max_decoded_pixels,
            max_pixels=face.max_pixels,
        )

    def _turn_events(
        self,
        graph_input: AttuneState,
        config: Any,
        context: AttuneContext,
        speech: SpeechStage | None,
        kept: list[AttuneState],
    ) -> Iterator[TurnEvent]:
        """The graph's events with, when the reply is spoken, the speech stage's after each
        (the audio of a final sentence follows it while the graph writes on), then the rest of
        the reply spoken once the graph has kept it. The graph's final state is appended to
        ``kept``."""
        for event in self._run_graph(graph_input, config, context):
            yield event
            if speech is not None:
                yield from speech.feed(event)  # a final sentence is spoken now
        state: AttuneState = self.graph.get_state(config).values  # type: ignore[assignment]
        kept.append(state)
        if speech is not None:
            yield from speech.finish(state.get("reply") or "")

    def _run_graph(
        self, graph_input: AttuneState, config: Any, context: AttuneContext
    ) -> Iterator[TurnEvent]:
        """Run the graph in a worker thread, yielding custom events as nodes write them.

        A worker keeps the events flowing while a node is still generating; errors raised in the
        graph are re-raised here.
        """
        bridge: Bridge[TurnEvent] = Bridge()

        def produce(out: Bridge[TurnEvent]) -> None:
            # one checkpoint per turn, written when the graph exits (also on an error), not
            # one per node: the state is not stored nine times over
            for event in self.graph.stream(
                graph_input, config, context=context, stream_mode="custom", durability="exit"
            ):
                if not isinstance(event, TURN_EVENTS):  # a node wrote something else: a bug
                    raise TypeError(f"a node emitted {type(event).__name__}, not a turn event")
                out.put(cast(TurnEvent, event))

        worker = bridge.start_thread(produce, name="attune-turn")
        try:
            yield from bridge.items()
        finally:
            worker.join()

    def available(self, modalities: tuple[str, ...]) -> tuple[str, ...]:
        """Those of ``modalities`` (``asr``, ``speech_emotion``, ``tts``, ``face``) whose
        backends can be created here: a text-only install serves text. The others are logged
        with the reason."""
        usable = []
        for role in modalities:
            try:
                self.context.backend(role)
            except ConfigError as exc:
                log.warning("%s is unavailable: %s", role, exc)
                continue
            usable.append(role)
        return tuple(usable)

    def read_face(self, image: Any) -> FaceReading:
        """The face in one camera frame (an RGB array, encoded bytes or a path), by the
        ``face`` backend, outside any turn: the server shows it live. Nothing is stored."""
        return self.context.face.analyze(image)

    def transcribe(self, audio: Audio) -> Transcript:
        """What was said in ``audio``, by the ``asr`` backend, outside any turn: the server
        recognises open-microphone speech as it arrives (live transcripts; a backchannel told
        from an interruption) and may hand the last result to the turn (``transcript=``).
        Nothing is stored or logged."""
        return self.context.asr.transcribe(audio)

    def truncate_reply(self, session_id: str, turn_id: str, said: str) -> bool:
        """Record that only ``said`` of turn ``turn_id``'s reply reached the user (barge-in
        during playback): the assistant message is cut to it and marked interrupted; with
        nothing said it is emptied. Returns whether the turn's reply was found.
        """
        config: Any = {"configurable": {"thread_id": validate_session_id(session_id)}}
        if not isinstance(said, str):
            raise InputError("bad_type", "the spoken text must be a string")
        with self._lock:
            history = self.graph.get_state(config).values.get("history", [])
            target = next(
                (m for m in history if m.turn_id == turn_id and m.role == "assistant"), None
            )
            if target is None:
                return False
            kept = " ".join(said.split())
            if not " ".join(target.content.split()).startswith(kept):
                kept = ""  # only a prefix of what was generated can have been said
            update = target.model_copy(update={"content": kept, "interrupted": True})
            self.graph.update_state(config, {"history": [update]}, as_node="respond")
        return True

    # --- sessions ----------------------------------------------------------------------------

    def import_history(self, session_id: str, messages: Sequence[ChatMessage]) -> None:
        """Start session ``session_id`` from an earlier conversation (user and assistant
        messages, oldest first): a conversation carried over from another channel, or a
        recorded dialogue replayed for evaluation. The session must not exist yet."""
        session_id = validate_session_id(session_id)
        config: Any = {"configurable": {"thread_id": session_id}}
        cleaned = []
        for message in messages:
            if message.role not in ("user", "assistant"):
                raise InputError("bad_role", "imported messages are from the user or the assistant")
            content = validate_text(message.content, self.settings.chat.max_input_chars)
            cleaned.append(message.model_copy(update={"content": content, "turn_id": None}))
        with self._lock:
            if self.graph.get_state(config).values.get("history"):
                raise InputError(
                    "session_exists", "history can only be imported into a new session"
                )
            self.graph.update_state(config, {"history": cleaned}, as_node="respond")

    def history(self, session_id: str) -> list[ChatMessage]:
        """The conversation of a session so far (empty for an unknown session)."""
        config: Any = {"configurable": {"thread_id": validate_session_id(session_id)}}
        values = self.graph.get_state(config).values
        return list(values.get("history", []))

    def sessions(self) -> list[SessionInfo]:
        """Every stored session (id, last update, message count), most recent first."""
        with self._lock:
            return list_sessions(self.checkpointer)

    def forget(self, session_id: str) -> bool:
        """Delete a session's stored conversation completely; whether it existed.

        Waits for a running turn to finish (do not call it from inside a ``stream_turn`` loop).
        """
        session_id = validate_session_id(session_id)
        with self._lock:
            return forget_session(self.checkpointer, session_id)

    def prune_sessions(self, older_than_days: float | None = None) -> list[str]:
        """Delete sessions untouched for longer than ``older_than_days`` (default: the
        ``safety.retention_days`` setting; 0 keeps all); the ids deleted."""
        days = self.settings.safety.retention_days if older_than_days is None else older_than_days
        with self._lock:
            return prune_sessions(self.checkpointer, days)

    @property
    def session_db(self) -> Path:
        """Where sessions are stored."""
        return self.settings.paths.session_db_path()


def _shared(names: Any, embedder: Embedder) -> dict[str, Any]:
    # The emotion head sits on the same MiniLM as the embedder: share one instance.
    return {"embedder": embedder} if names.text_emotion == "goemotions-head" else {}
