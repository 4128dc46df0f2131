"""The chat page at ``/`` in a real Chromium against a real ``attune serve`` (default models).

Each test drives the page the way a person would (typing, holding the microphone button, the
camera toggle, the Stop button) and reads what the page shows: the bubbles, the per-turn
inspector, the face reading, and ``body[data-state]`` / ``body[data-playing]``. The browser's
fake microphone plays the espeak-ng WAV and its fake camera shows the astronaut video. A real
turn takes 6-15 s on a CPU, so the turn timeouts are generous.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

#: A real turn on a slow, shared CPU (model warm-up included on the first one).
TURN_MS = 120_000
#: Connecting, once the server is up.
READY_MS = 60_000
SAD = "I lost my job today and I feel really sad about it."


def _ready(page: Any) -> None:
    """Wait until the page is connected and nothing is going on."""
    expect(page.locator("body")).to_have_attribute("data-state", "idle", timeout=READY_MS)


def _send(page: Any, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def _last_reply(page: Any) -> Any:
    return page.locator("li.msg-bot").last


def _wait_reply_done(page: Any) -> Any:
    reply = _last_reply(page)
    expect(reply).to_have_attribute("data-status", re.compile("done|interrupted"), timeout=TURN_MS)
    return reply


def _open_inspector(reply: Any) -> Any:
    inspector = reply.locator("details.inspector")
    inspector.locator("summary").click()
    expect(inspector).to_have_attribute("open", "")
    return inspector


def _percent_bars(section: Any, minimum: int) -> None:
    rows = section.locator(".bar-row")
    expect(rows.nth(minimum - 1)).to_be_visible()
    for value in rows.locator(".bar-value").all_inner_texts():
        assert re.fullmatch(r"\d{1,3}%", value.strip()), value


def test_typed_turn_streams_the_reply_and_explains_it(open_page: Any, screenshot: Any) -> None:
    """A typed turn: the user bubble, the streamed reply, and the inspector (affect bars,
    explanation, appraisal chain, strategy probabilities with the chosen one highlighted)."""
    page = open_page("/", viewport=(1280, 1100))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    _ready(page)
    expect(page.locator("#mic-indicator")).to_have_attribute("data-on", "false")
    expect(page.locator("#camera-indicator")).to_have_attribute("data-on", "false")
    expect(page.locator("#privacy")).to_contain_text("Nothing is recorded")

    _send(page, SAD)
    expect(page.locator("li.msg-user").last).to_contain_text(SAD)
    expect(page.get_by_label("Message", exact=True)).to_have_value("")
    expect(page.locator("body")).to_have_attribute(
        "data-state", re.compile("thinking|speaking"), timeout=10_000
    )
    reply = _wait_reply_done(page)
    text = reply.locator(".bubble-text").inner_text().strip()
    assert len(text) > 10

    inspector = _open_inspector(reply)
    text_emotion = inspector.locator('[data-section="text_emotion"]')
    expect(text_emotion).to_contain_text("sadness")
    _percent_bars(text_emotion, 3)
    affect = inspector.locator('[data-section="affect"]')
    _percent_bars(affect, 5)
    expect(affect.locator(".explanation")).not_to_be_empty()
    chain = inspector.locator('[data-section="appraisal"] .chain li')
    expect(chain).to_have_count(4)
    expect(chain.first).to_contain_text("Event")
    strategy = inspector.locator('[data-section="strategy"]')
    _percent_bars(strategy, 4)
    expect(strategy.locator(".bar-row.chosen")).to_have_count(1)
    chosen = strategy.locator(".bar-row.chosen").get_attribute("data-label")
    expect(strategy.locator(".insp-lead strong")).to_have_text(chosen or "")

    reply.scroll_into_view_if_needed()
    screenshot(page, "chat")
    # privacy: the page logs nothing of what was said or replied
    assert not [line for line in console if "job" in line or text[:20] in line]


def test_push_to_talk_turn_is_transcribed_and_spoken(open_page: Any, speech_wav: Any) -> None:
    """Holding the mic button streams the fake microphone; the transcript becomes the user
    bubble and the reply is played (data-state reaches speaking / played seconds > 0)."""
    page = open_page("/", audio=speech_wav)
    _ready(page)
    mic = page.get_by_role("button", name=re.compile("Hold to talk"))
    box = mic.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    body = page.locator("body")
    expect(body).to_have_attribute("data-state", "listening", timeout=10_000)
    expect(page.locator("#mic-indicator")).to_have_attribute("data-on", "true", timeout=10_000)
    page.wait_for_timeout(int((speech_wav.speech_seconds + 1.0) * 1000))
    page.mouse.up()
    # the microphone is released at once (the browser's indicator goes off)
    expect(page.locator("#mic-indicator")).to_have_attribute("data-on", "false", timeout=5_000)

    expect(page.locator("li.msg-user").last).to_contain_text("job", timeout=TURN_MS)
    page.wait_for_function(
        "() => document.body.dataset.state === 'speaking' || window.attune.playedSeconds > 0",
        timeout=TURN_MS,
    )
    reply = _wait_reply_done(page)
    page.wait_for_function("() => window.attune.playedSeconds > 0.2", timeout=30_000)
    inspector = _open_inspector(reply)
    expect(inspector.locator('[data-section="speech_emotion"]')).to_contain_text("arousal")
    expect(inspector.locator('[data-section="affect"]')).to_be_visible()


def test_camera_shows_the_face_reading_and_the_turn_uses_it(open_page: Any, face_y4m: Any) -> None:
    """The camera toggle shows a preview and the live face reading (the astronaut smiles);
    a turn sent while it is on has the face modality in its inspector."""
    page = open_page("/", video=face_y4m)
    _ready(page)
    camera = page.get_by_role("button", name="Camera", exact=True)
    camera.click()
    expect(camera).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#camera-indicator")).to_have_attribute("data-on", "true")
    expect(page.locator("#camera-preview")).to_be_visible()
    reading = page.locator("#face-reading")
    expect(reading).to_have_attribute("data-label", "happy", timeout=60_000)
    expect(reading).to_contain_text("happy")

    _send(page, "Guess what, I passed my exam today!")
    reply = _wait_reply_done(page)
    inspector = _open_inspector(reply)
    face = inspector.locator('[data-section="face"]')
    expect(face).to_contain_text("happy")
    _percent_bars(face, 2)
    expect(inspector.locator('[data-section="affect"]')).to_contain_text("face")

    camera.click()
    expect(page.locator("#camera-indicator")).to_have_attribute("data-on", "false")
    expect(page.locator("#camera-panel")).to_be_hidden()


def test_stop_interrupts_the_spoken_reply(open_page: Any) -> None:
    """Stop while Attune speaks: playback stops at once, the server is told how much was
    heard, and the bubble says it was interrupted (with what was heard)."""
    page = open_page("/")
    _ready(page)
    _send(page, SAD)
    body = page.locator("body")
    expect(body).to_have_attribute("data-playing", "true", timeout=TURN_MS)
    expect(body).to_have_attribute("data-state", "speaking")
    page.wait_for_timeout(1500)  # let a few words be heard
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(body).to_have_attribute("data-playing", "false", timeout=500)
    played = page.evaluate("window.attune.playedSeconds")
    assert 0.5 < played < 30

    reply = _last_reply(page)
    expect(reply).to_have_attribute("data-status", "interrupted")
    expect(reply.locator(".note-interrupted")).to_contain_text("You heard", timeout=TURN_MS)
    expect(body).to_have_attribute("data-state", "idle", timeout=TURN_MS)
    expect(body).to_have_attribute("data-playing", "false")
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_hidden()


def test_bad_input_is_explained_and_the_session_goes_on(open_page: Any) -> None:
    """An empty message is not sent (a hint says why); a server error (a message over the
    server's length limit) is shown politely and the session stays usable."""
    page = open_page("/")
    _ready(page)
    box = page.get_by_label("Message", exact=True)
    box.fill("   ")
    box.press("Enter")
    expect(page.locator("#composer-hint")).to_contain_text("Type a message first")
    expect(page.locator("li.msg-user")).to_have_count(0)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("li.msg-user")).to_have_count(0)
    session = page.evaluate("window.attune.sessionId")

    # the textarea stops at 4000 characters; a script can still put more in
    box.evaluate("(el) => { el.value = 'a'.repeat(4500); }")
    page.get_by_role("button", name="Send", exact=True).click()
    note = page.locator('li.msg-system[data-error-code="text_too_long"]')
    expect(note).to_be_visible(timeout=30_000)
    expect(note).to_contain_text("too long")
    expect(page.locator("body")).to_have_attribute("data-state", "idle", timeout=10_000)
    assert page.evaluate("window.attune.connection") == "open"
    assert page.evaluate("window.attune.sessionId") == session
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()


def test_a_dropped_connection_reconnects_and_resumes(open_page: Any) -> None:
    """When the socket drops, the page shows it, reconnects by itself (with backoff) and
    resumes the same session (the conversation so far is still on the page)."""
    page = open_page("/")
    _ready(page)
    sockets: list[Any] = []

    def route(ws: Any) -> None:
        sockets.append(ws)
        ws.connect_to_server()

    # the page's websocket goes through Playwright from now on (a reload resumes the session)
    page.route_web_socket(re.compile(r"/ws$"), route)
    session = page.evaluate("window.attune.sessionId")
    page.reload()
    _ready(page)
    assert page.evaluate("window.attune.sessionId") == session
    assert len(sockets) == 1

    sockets[0].close(code=4000, reason="test: dropped")
    body = page.locator("body")
    expect(body).to_have_attribute("data-state", "error", timeout=5_000)
    expect(page.get_by_role("button", name="Retry", exact=True)).to_be_visible()
    _ready(page)
    assert len(sockets) == 2
    assert page.evaluate("window.attune.sessionId") == session
    expect(page.get_by_role("button", name="Retry", exact=True)).to_be_hidden()


_WORKLET_PROBE = """
async ([rate, freq]) => {
  const seconds = 1.0;
  const ctx = new OfflineAudioContext(1, Math.round(rate * seconds), rate);
  await ctx.audioWorklet.addModule("/js/pcm-worklet.js");
  const node = new AudioWorkletNode(ctx, "pcm16-capture", { numberOfOutputs: 1 });
  const chunks = [];
  node.port.onmessage = (e) => chunks.push(e.data);
  const osc = new OscillatorNode(ctx, { frequency: freq });
  const gain = new GainNode(ctx, { gain: 0.5 });
  osc.connect(gain).connect(node);
  node.connect(ctx.destination);
  osc.start();
  await ctx.startRendering();
  await new Promise((r) => setTimeout(r, 300));
  const sizes = chunks.map((c) => c.pcm.byteLength);
  // skip the first chunk (the filter's start-up), measure the rest
  const samples = chunks.slice(1).flatMap((c) => Array.from(new Int16Array(c.pcm)));
  const rms = Math.sqrt(samples.reduce((a, s) => a + (s / 32768) ** 2, 0) / samples.length);
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) {
    if ((samples[i - 1] < 0) !== (samples[i] < 0)) crossings++;
  }
  const measured = crossings / 2 / (samples.length / 16000);
  return { sizes, rms, freq: measured, levels: chunks.map((c) => c.rms) };
}
"""


@pytest.mark.parametrize("rate", [48000, 44100])
def test_microphone_worklet_resamples_to_16k_without_aliasing(open_page: Any, rate: int) -> None:
    """The capture worklet turns the context's rate into 16 kHz PCM16 in 100 ms chunks
    (3200 bytes): a 1 kHz tone keeps its level and pitch, a 10 kHz tone (above the new
    Nyquist frequency) is filtered out instead of folding back as a 6 kHz alias."""
    page = open_page("/")
    tone = page.evaluate(_WORKLET_PROBE, [rate, 1000])
    assert set(tone["sizes"]) == {3200}
    assert len(tone["sizes"]) in (9, 10)
    assert abs(tone["rms"] - 0.5 / 2**0.5) < 0.02
    assert abs(tone["freq"] - 1000) < 15
    assert all(abs(level - 0.354) < 0.05 for level in tone["levels"][1:])
    alias = page.evaluate(_WORKLET_PROBE, [rate, 10000])
    assert alias["rms"] < 0.01  # at least ~30 dB down


_PLAYER_PROBE = """
async () => {
  const { Player } = await import("/js/audio.js");
  const player = new Player();
  await player.resume();
  const events = [];
  for (const name of ["start", "end", "flush"]) {
    player.addEventListener(name, () => events.push(name));
  }
  const rate = 24000;
  const chunk = () => {
    const pcm = new Int16Array(rate / 2);  // 0.5 s of a quiet tone
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(3000 * Math.sin(i / 8));
    return pcm.buffer;
  };
  const before = player.replyTime();
  player.enqueue(chunk(), { sampleRate: rate, offset: 0, duration: 0.5, turnId: "t1" });
  player.enqueue(chunk(), { sampleRate: rate, offset: 0.5, duration: 0.5, turnId: "t1" });
  const playing = player.playing;
  await new Promise((r) => setTimeout(r, 700));
  const mid = player.replyTime();
  const playedMid = player.playedSeconds();
  const flushed = player.flush();
  const after = {
    playing: player.playing, replyTime: player.replyTime(), played: player.playedSeconds(),
  };
  // a new turn plays to the end by itself
  player.enqueue(chunk(), { sampleRate: rate, offset: 0, duration: 0.5, turnId: "t2" });
  await new Promise((r) => setTimeout(r, 900));
  return { before, playing, mid, playedMid, flushed, after, events, turn: player.turnId,
           endPlaying: player.playing, endPlayed: player.playedSeconds() };
}
"""


def test_player_schedules_gap_free_and_flushes_at_once(open_page: Any) -> None:
    """The reply player (shared with the kiosk): chunks play back to back, replyTime() follows
    the reply's own timeline, flush() stops at once and says how much was heard, "end" fires
    when a turn's audio ran out."""
    page = open_page("/")
    _ready(page)
    r = page.evaluate(_PLAYER_PROBE)
    assert r["before"] == -1
    assert r["playing"] is True
    assert 0.5 < r["mid"] < 0.9  # into the second chunk: its offset counts
    assert 0.5 < r["playedMid"] < 0.9
    assert abs(r["flushed"] - r["playedMid"]) < 0.1
    assert r["after"]["playing"] is False
    assert r["after"]["replyTime"] == -1
    assert abs(r["after"]["played"] - r["flushed"]) < 1e-6
    assert r["events"] == ["start", "flush", "start", "end"]
    assert r["turn"] == "t2"
    assert r["endPlaying"] is False
    assert abs(r["endPlayed"] - 0.5) < 0.02


def test_open_microphone_turn_is_cut_by_the_servers_vad(open_page: Any, once_wav: Any) -> None:
    """Open microphone: no button to hold; the server's VAD ends the utterance by itself and
    the transcript is answered. Turning it off releases the microphone."""
    page = open_page("/", audio=once_wav)
    _ready(page)
    open_mic = page.get_by_role("button", name="Open microphone", exact=True)
    open_mic.click()
    expect(open_mic).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#mic-indicator")).to_have_attribute("data-on", "true", timeout=10_000)
    expect(page.locator("li.msg-user").last).to_contain_text("job", timeout=TURN_MS)
    reply = _wait_reply_done(page)
    assert len(reply.locator(".bubble-text").inner_text().strip()) > 10
    # the microphone stayed open for the next utterance
    assert page.locator("#mic-indicator").get_attribute("data-on") == "true"
    open_mic.click()
    expect(open_mic).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#mic-indicator")).to_have_attribute("data-on", "false", timeout=5_000)
    expect(page.locator("li.msg-user")).to_have_count(1)


def _open_mic_while_speaking(page: Any) -> Any:
    """Send the sad message, and open the microphone once the reply is playing (the fake
    microphone's file starts when it opens)."""
    _ready(page)
    _send(page, SAD)
    body = page.locator("body")
    expect(body).to_have_attribute("data-playing", "true", timeout=TURN_MS)
    page.get_by_role("button", name="Open microphone", exact=True).click()
    return body


def test_a_backchannel_while_attune_speaks_does_not_stop_it(
    open_page: Any, backchannel_wav: Any
) -> None:
    """Open microphone: "Okay." while the reply plays is a backchannel: the page is told, the
    reply plays to its end, and no turn is made of it."""
    page = open_page("/", audio=backchannel_wav)
    body = _open_mic_while_speaking(page)
    expect(body).to_have_attribute("data-backchannels", "1", timeout=20_000)
    reply = page.locator("li.msg-bot").first
    expect(reply).to_have_attribute("data-status", "done", timeout=TURN_MS)
    expect(body).to_have_attribute("data-playing", "false", timeout=TURN_MS)
    assert page.locator(".note-interrupted").count() == 0
    expect(page.locator("li.msg-user")).to_have_count(1)


def test_a_real_interruption_while_attune_speaks_stops_it(
    open_page: Any, interruption_wav: Any
) -> None:
    """Open microphone: "Wait, can I tell you something about my sister?" while the reply
    plays stops it (with what was heard kept) and is answered as the next turn."""
    page = open_page("/", audio=interruption_wav)
    body = _open_mic_while_speaking(page)
    first = page.locator("li.msg-bot").first
    expect(first).to_have_attribute("data-status", "interrupted", timeout=20_000)
    expect(body).to_have_attribute("data-playing", "false", timeout=5_000)
    expect(page.locator("li.msg-user").last).to_contain_text("sister", timeout=TURN_MS)
    expect(first.locator(".note-interrupted")).to_contain_text("You heard", timeout=TURN_MS)
    _wait_reply_done(page)
    assert page.get_attribute("body", "data-backchannels") is None


def test_live_transcript_appears_while_the_person_speaks(open_page: Any, once_wav: Any) -> None:
    """Open microphone: the words appear in a live bubble while the fake microphone speaks,
    and that bubble becomes the message once the turn is heard."""
    page = open_page("/", audio=once_wav)
    _ready(page)
    page.get_by_role("button", name="Open microphone", exact=True).click()
    live = page.locator("li.msg-live")
    expect(live).to_contain_text(re.compile("lost|job", re.IGNORECASE), timeout=15_000)
    assert page.locator("li.msg-bot").count() == 0  # still speaking: no reply yet
    message = page.locator("li.msg-user").first
    expect(message).not_to_have_class(re.compile("msg-live"), timeout=TURN_MS)
    expect(message).to_contain_text("job")
    expect(page.locator("li.msg-user")).to_have_count(1)
    _wait_reply_done(page)


def test_typing_while_attune_speaks_interrupts_it(open_page: Any) -> None:
    """Barge-in by typing: a message sent while the reply plays stops the playback at once,
    marks that reply interrupted (with what was heard) and is answered in turn."""
    page = open_page("/")
    _ready(page)
    _send(page, SAD)
    body = page.locator("body")
    expect(body).to_have_attribute("data-playing", "true", timeout=TURN_MS)
    page.wait_for_timeout(1000)
    _send(page, "Sorry, can I say something?")
    first = page.locator("li.msg-bot").first
    expect(first).to_have_attribute("data-status", "interrupted", timeout=2_000)
    expect(page.locator("li.msg-user")).to_have_count(2)
    expect(page.locator("li.msg-bot")).to_have_count(2, timeout=TURN_MS)
    second = _wait_reply_done(page)
    assert len(second.locator(".bubble-text").inner_text().strip()) > 10
    expect(first.locator(".note-interrupted")).to_contain_text("You heard", timeout=TURN_MS)


def test_the_space_bar_holds_to_talk(open_page: Any, speech_wav: Any) -> None:
    """Keyboard operable: holding Space (outside the message box) is the push-to-talk button."""
    page = open_page("/", audio=speech_wav)
    _ready(page)
    page.get_by_role("button", name=re.compile("Hold to talk")).focus()
    page.keyboard.down(" ")
    expect(page.locator("body")).to_have_attribute("data-state", "listening", timeout=10_000)
    expect(page.locator("#mic")).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(int((speech_wav.speech_seconds + 1.0) * 1000))
    page.keyboard.up(" ")
    expect(page.locator("#mic-indicator")).to_have_attribute("data-on", "false", timeout=5_000)
    expect(page.locator("li.msg-user").last).to_contain_text("job", timeout=TURN_MS)
    _wait_reply_done(page)
    # in the message box Space is a space
    box = page.get_by_label("Message", exact=True)
    box.focus()
    page.keyboard.type("a b")
    expect(box).to_have_value("a b")
    assert page.locator("body").get_attribute("data-state") != "listening"


def test_concern_asks_gently_and_a_yes_brings_the_crisis_resources(open_page: Any) -> None:
    """A risk indicator gets the normal reply ending with a check-in, and nothing alarming on
    the page (no banner; the inspector says "Concern" and why); "yes" to the check-in is a
    crisis: the resources banner, and the inspector shows the override, not a planner pick."""
    page = open_page("/")
    _ready(page)
    _send(page, "I feel like a burden to my family since I lost my job.")
    reply = _wait_reply_done(page)
    expect(reply.locator(".bubble-text")).to_contain_text("are you having thoughts of ending")
    expect(page.locator("#crisis")).to_be_hidden()
    expect(reply).to_have_attribute("data-tier", "concern")
    inspector = _open_inspector(reply)
    safety = inspector.locator('[data-section="safety"]')
    expect(safety).to_contain_text("Concern")
    expect(safety).to_contain_text("burden")
    expect(inspector.locator('[data-section="strategy"] .badge-warn')).to_have_count(0)

    _ready(page)
    _send(page, "yes, sometimes")
    crisis_reply = _wait_reply_done(page)
    expect(page.locator("#crisis")).to_be_visible()
    expect(page.locator("#crisis-resources li").first).to_be_visible()
    expect(crisis_reply).to_have_attribute("data-tier", "crisis")
    inspector = _open_inspector(crisis_reply)
    expect(inspector.locator('[data-section="safety"]')).to_contain_text("Crisis")
    strategy = inspector.locator('[data-section="strategy"]')
    expect(strategy).to_contain_text("Overridden")
    expect(strategy).to_contain_text("planner: safety")
