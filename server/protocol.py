"""The wire protocol between Attune's server and its clients (docs/protocol.md).

Every JSON message is one of the pydantic models below, discriminated by ``type``. Client
messages are validated with :func:`parse_client_message`; server messages are built here and
stamped with a per-connection, monotonically increasing ``seq`` when sent. Audio travels in
binary frames: PCM16 from the client between ``user.audio.start`` and ``user.audio.end``, and
from the server one binary frame right after each ``audio.chunk`` header message.

:func:`protocol_schema` is the JSON Schema of both directions; ``docs/protocol.schema.json`` is
generated from it (``python -m server.protocol``) and a test checks that the file is current.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from attune.errors import ErrorCode, error_code
from attune.types import (
    TURN_EVENTS,
    AudioChunkEvent,
    ChatMessage,
    FaceReading,
    WordTiming,
)

#: The protocol version this server speaks; ``session.start`` must name it.
PROTOCOL_VERSION = 1
#: Where the generated schema lives in the repository.
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "protocol.schema.json"

WireFormat = Literal["pcm16", "wav", "opus"]
_Ref = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- client -> server -------------------------------------------------------------------------


class Capabilities(_Wire):
    """What the client wants streamed back: the reply as ``audio`` (``audio.chunk``), the
    avatar's cue timeline (``avatar.cues``), a rendered ``video`` (``avatar.video`` URL)."""

    text: bool = True
    audio: bool = False
    avatar: bool = False
    video: bool = False
    #: The user's language (BCP 47, e.g. ``en``); informative for now.
    language: str = Field(default="en", min_length=2, max_length=16)


class AudioFormat(_Wire):
    """The format of the client's binary audio frames: little-endian signed 16-bit PCM."""

    encoding: Literal["pcm16"] = "pcm16"
    sample_rate: int = Field(default=16000, ge=8000, le=48000)
    channels: int = Field(default=1, ge=1, le=2)


class SessionStart(_Wire):
    """Open a session: a new one (no ``session_id``) or resume one this token owns."""

    type: Literal["session.start"]
    v: int
    session_id: str | None = Field(default=None, min_length=1, max_length=128)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    audio_in: AudioFormat = Field(default_factory=AudioFormat)
    #: How spoken replies are encoded; ``None`` means the server's ``voice.wire_format``.
    audio_out: WireFormat | None = None


class UserText(_Wire):
    """A typed message: one turn. ``ref`` is the client's own id, echoed on the turn's events."""

    type: Literal["user.text"]
    v: int = PROTOCOL_VERSION
    text: str = Field(max_length=100_000)
    ref: _Ref | None = None


class UserAudioStart(_Wire):
    """Binary PCM16 frames follow. ``push``: everything up to ``user.audio.end`` is one turn.
    ``open``: an open microphone; the server's VAD cuts utterances and each is a turn, and
    with ``barge_in`` speech during a reply interrupts it."""

    type: Literal["user.audio.start"]
    v: int = PROTOCOL_VERSION
    mode: Literal["push", "open"] = "push"
    barge_in: bool = True
    ref: _Ref | None = None


class UserAudioEnd(_Wire):
    """The end of the audio stream (push: the turn is complete; open: the mic is closed)."""

    type: Literal["user.audio.end"]
    v: int = PROTOCOL_VERSION


class UserImage(_Wire):
    """A camera frame, JPEG or PNG, base64. The face is read and smoothed over recent frames
    (``face.reading``); the latest frame also goes with the next turn."""

    type: Literal["user.image"]
    v: int = PROTOCOL_VERSION
    data: str = Field(min_length=4)


class Interrupt(_Wire):
    """Barge-in: stop the turn in flight (or cut the last reply still being played).

    ``played_seconds`` is how much of the turn's reply audio the client actually played; the
    history keeps only what was said up to there (without it: what was sent)."""

    type: Literal["interrupt"]
    v: int = PROTOCOL_VERSION
    turn_id: str | None = Field(default=None, max_length=64)
    played_seconds: float | None = Field(default=None, ge=0.0)


class SessionEnd(_Wire):
    """Close the session; with ``forget`` its stored conversation is deleted."""

    type: Literal["session.end"]
    v: int = PROTOCOL_VERSION
    forget: bool = False


AnyClientMessage = (
    SessionStart | UserText | UserAudioStart | UserAudioEnd | UserImage | Interrupt | SessionEnd
)
ClientMessage = Annotated[AnyClientMessage, Field(discriminator="type")]
_CLIENT: TypeAdapter[AnyClientMessage] = TypeAdapter(ClientMessage)


# --- server -> client -------------------------------------------------------------------------


class _ServerMessage(_Wire):
    v: int = PROTOCOL_VERSION
    #: Position of the message on this connection (1, 2, ...); set when sent.
    seq: int = 0


class Limits(_Wire):
    """The limits this server enforces, so that clients can stay within them."""

    max_message_bytes: int
    max_image_bytes: int
    max_image_fps: float
    max_messages_per_s: float
    max_audio_seconds: float
    max_queued_turns: int
    idle_timeout_s: float


class SessionStarted(_ServerMessage):
    """The session is open. ``history`` is the conversation so far when resumed."""

    type: Literal["session.started"] = "session.started"
    session_id: str
    resumed: bool
    history: list[ChatMessage]
    capabilities: Capabilities
    audio_out: WireFormat
    limits: Limits


class TurnQueued(_ServerMessage):
    """A turn was accepted; ``position`` is how many turns of this connection are ahead of it."""

    type: Literal["turn.queued"] = "turn.queued"
    ref: str | None = None
    position: int


class TurnEventMessage(_ServerMessage):
    """One event of a turn, forwarded from :meth:`agent.Attune.stream_turn` as it happens.

    ``type`` and ``data`` are the engine's typed event (``attune.types.TurnEvent``, a union
    discriminated by ``type``) and its payload, ``event.data``: ``perception`` (``text_emotion``
    / ``transcript`` + ``speech_emotion`` / ``face`` / ``affect``), ``safety`` (``tier``,
    ``category``, ``reason``), ``crisis``, ``appraisal``, ``strategy``, ``reply.delta``
    (``text``), ``reply.done`` (``text`` and the whole ``result``), ``avatar.cues``
    (``cues``). The schema's ``events`` section is generated from those models.
    """

    type: str
    turn_id: str
    ref: str | None = None
    data: dict[str, Any]


class AudioChunkHeader(_ServerMessage):
    """One sentence of the spoken reply; the audio itself is the next (binary) frame.

    ``offset`` and the word times count from the start of the whole reply."""

    type: Literal["audio.chunk"] = "audio.chunk"
    turn_id: str
    ref: str | None = None
    format: WireFormat
    sample_rate: int
    channels: int = 1
    bytes: int
    offset: float
    duration: float
    text: str
    words: list[WordTiming]
    style: dict[str, Any]


class AvatarVideo(_ServerMessage):
    """A rendered talking-head video of the reply, served by this server at ``url``."""

    type: Literal["avatar.video"] = "avatar.video"
    turn_id: str
    ref: str | None = None
    url: str
    expires_in_s: float


class TurnInterrupted(_ServerMessage):
    """The interrupt was applied: no more audio or avatar output comes for ``turn_id``, and the
    history keeps ``said`` as the reply (``reply.done`` still closes a turn that was running)."""

    type: Literal["turn.interrupted"] = "turn.interrupted"
    turn_id: str | None
    ref: str | None = None
    said: str | None = None


class SpeechStartedMessage(_ServerMessage):
    """Open microphone: the VAD heard speech begin (``at`` seconds into the stream)."""

    type: Literal["speech.started"] = "speech.started"
    at: float


class TranscriptPartialMessage(_ServerMessage):
    """Open microphone: what the person has said so far in the utterance in progress
    (``ref``: the audio stream's), recognised again as it grows; the turn's ``perception``
    brings the final transcript."""

    type: Literal["transcript.partial"] = "transcript.partial"
    ref: str | None = None
    text: str


class SpeechBargeInMessage(_ServerMessage):
    """Open microphone: what the person said while Attune was speaking is an interruption
    (long enough, and not a backchannel). The turn in flight is stopped; a page still playing
    the reply stops it and sends ``interrupt`` with what was played."""

    type: Literal["speech.barge_in"] = "speech.barge_in"
    turn_id: str | None = None


class SpeechBackchannelMessage(_ServerMessage):
    """Open microphone: the person said "mm-hmm", "yeah", "okay" (or coughed, laughed) while
    Attune was speaking: a sign they are following, kept as a signal; the reply goes on and no
    turn is made of it."""

    type: Literal["speech.backchannel"] = "speech.backchannel"
    turn_id: str | None = None


class FaceReadingMessage(_ServerMessage):
    """The face in the camera, smoothed over recent frames."""

    type: Literal["face.reading"] = "face.reading"
    face: FaceReading


class ErrorMessage(_ServerMessage):
    """Something went wrong. ``recoverable`` says whether the session is still usable (if not,
    the server closes the connection after this message)."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    recoverable: bool
    ref: str | None = None
    turn_id: str | None = None


class SessionEnded(_ServerMessage):
    """The session was closed (``forgotten``: its stored conversation was deleted)."""

    type: Literal["session.ended"] = "session.ended"
    forgotten: bool


ServerMessage = (
    SessionStarted
    | TurnQueued
    | TurnEventMessage
    | AudioChunkHeader
    | AvatarVideo
    | TurnInterrupted
    | SpeechStartedMessage
    | TranscriptPartialMessage
    | SpeechBargeInMessage
    | SpeechBackchannelMessage
    | FaceReadingMessage
    | ErrorMessage
    | SessionEnded
)


# --- parsing and schema -----------------------------------------------------------------------


class ProtocolError(Exception):
    """A client message that cannot be used; ``code`` names why (sent back as an ``error``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = error_code(code)


def parse_client_message(raw: str) -> AnyClientMessage:
    """Validate one text frame from a client, or raise :class:`ProtocolError`.

    Errors name the field and the problem, never the content of what the user sent.
    """
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"the message is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ProtocolError("bad_json", "the message is nested too deeply") from None
    except ValueError:  # e.g. an integer of more digits than Python converts
        raise ProtocolError("bad_json", "the message holds a value that cannot be read") from None
    if not isinstance(payload, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object")
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "a message needs a string 'type'")
    version = payload.get("v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            "unsupported_version",
            f"protocol version {version!r} is not supported; this server speaks "
            f"v{PROTOCOL_VERSION}",
        )
    try:
        return _CLIENT.validate_python(payload)
    except ValidationError as exc:
        problems = exc.errors(include_input=False, include_url=False)
        if any(p["type"] == "union_tag_invalid" for p in problems):
            raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}") from None
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'message'}: {e['msg']}"
            for e in problems[:5]
        )
        raise ProtocolError("bad_message", f"invalid {kind[:40]!r} message: {detail}") from None


def dump(message: _ServerMessage) -> str:
    """A server message as a JSON text frame."""
    return message.model_dump_json(exclude_none=False)


#: What the web pages say to the person for an error code (``None``: show nothing; a code not
#: here shows the server's own message). Exported in the schema as ``$defs.ErrorCode
#: ["x-user-text"]``, which ``static/js/chat.js`` reads.
USER_TEXT: dict[ErrorCode, str | None] = {
    ErrorCode.NO_SPEECH: (
        "I didn't catch any speech. Could you try again, a little closer to the microphone?"
    ),
    ErrorCode.EMPTY_AUDIO: "I didn't catch anything. Hold the button while you speak.",
    ErrorCode.EMPTY_TURN: "I didn't catch anything. Hold the button while you speak.",
    ErrorCode.NO_AUDIO: "I didn't catch anything. Hold the button while you speak.",
    ErrorCode.EMPTY_TEXT: "Type a message first.",
    ErrorCode.TEXT_TOO_LONG: "That message is too long for me. Could you shorten it?",
    ErrorCode.AUDIO_TOO_LONG: (
        "That was longer than I can listen to at once. Could you say it in shorter parts?"
    ),
    ErrorCode.BAD_AUDIO: "The microphone sent audio I could not use. Please try again.",
    ErrorCode.BAD_AUDIO_VALUES: "The microphone sent audio I could not use. Please try again.",
    ErrorCode.QUEUE_FULL: "I'm still working on your earlier messages. Please wait a moment.",
    ErrorCode.RATE_LIMITED: "That was a lot at once. Please slow down a little.",
    ErrorCode.INTERNAL_ERROR: (
        "Something went wrong on my side with that message. You can try again."
    ),
    ErrorCode.BACKEND_UNAVAILABLE: "Part of me isn't available right now, so I couldn't do that.",
    ErrorCode.IDLE_TIMEOUT: "The connection was closed after a long pause.",
    ErrorCode.SESSION_FORGOTTEN: (
        "This conversation was deleted from another window. A new one starts here."
    ),
    ErrorCode.IMAGE_TOO_LARGE: "A camera frame was too large to send.",
    ErrorCode.BAD_IMAGE: "A camera frame could not be read.",
    ErrorCode.NOTHING_TO_INTERRUPT: None,
    ErrorCode.IMAGE_RATE: None,
    ErrorCode.AUDIO_NOT_STARTED: None,
    ErrorCode.AUDIO_ALREADY_STARTED: None,
}


#: The engine's events whose payload is JSON as a whole (``audio.chunk`` goes out as an
#: ``audio.chunk`` header and a binary frame instead): what ``turn.event`` messages' ``data``
#: holds, by ``type``.
_WIRE_EVENTS: Any = Annotated[
    Union[tuple(e for e in TURN_EVENTS if e is not AudioChunkEvent)],  # noqa: UP007
    Field(discriminator="type"),
]


def protocol_schema() -> dict[str, Any]:
    """The JSON Schema of every message in both directions."""
    server = TypeAdapter(ServerMessage).json_schema(mode="serialization")
    client = _CLIENT.json_schema(mode="validation")
    events = TypeAdapter(_WIRE_EVENTS).json_schema(mode="serialization")
    defs = {**client.pop("$defs", {}), **server.pop("$defs", {}), **events.pop("$defs", {})}
    defs["ErrorCode"]["x-user-text"] = {code.value: text for code, text in USER_TEXT.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Attune websocket protocol v{PROTOCOL_VERSION}",
        "description": "See docs/protocol.md. Binary frames (audio) are not described here.",
        "version": PROTOCOL_VERSION,
        "client": client,
        "server": server,
        "events": events,
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    """The schema as it is written to ``docs/protocol.schema.json``."""
    return json.dumps(protocol_schema(), indent=2, sort_keys=True) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Regenerate the schema file."""
    path.write_text(schema_text(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_schema())
