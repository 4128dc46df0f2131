// The avatar kiosk (/kiosk): a hands-free conversation with Attune's face.
//
// The face is drawn here from the avatar.cues stream, frame by frame at the reply audio's own
// clock (Player.replyTime()), in the server's renderer style (GET /avatar/rig.json). With
// ?video=1 it plays the server-rendered MP4 instead. The microphone is open and the server's
// VAD cuts utterances (barge-in on); the camera sends ~2 frames a second while someone is
// talking. After ?idle= seconds (default 90) without activity the session ends with
// forget: true, the captions are cleared and the kiosk returns to its attract state.
//
// URL options: ?style=portrait|cartoon, ?video=1, ?autostart=1 (listen at once: unattended
// kiosks launched with an autoplay policy that allows it), ?idle=SECONDS, ?token=TOKEN.
// Test hooks: document.body.dataset.state / .playing / .session, window.attuneKiosk.
//
// Privacy: nothing the user says or shows, and no reply, is logged or stored here.

import { AttuneConnection } from "./connection.js";
import { MicCapture, Player } from "./audio.js";
import { CameraCapture } from "./camera.js";
import { CueTimeline, blendCue, createAvatar } from "./avatar.js";

const params = new URLSearchParams(location.search);
const options = {
  style: params.get("style") || null,
  video: params.get("video") === "1",
  autostart: params.get("autostart") === "1",
  idleSeconds: Math.max(1, Number(params.get("idle")) || 90),
};
const reducedMotionQuery = window.matchMedia("(prefers-reduced-motion: reduce)");

const $ = (id) => document.getElementById(id);
const ui = {
  canvas: $("avatar"),
  video: $("avatar-video"),
  status: $("status"),
  userCaption: $("caption-user"),
  userText: $("caption-user-text"),
  replyCaption: $("caption-reply"),
  replyText: $("caption-reply-text"),
  start: $("start"),
  hint: $("attract-hint"),
  mic: $("mic-indicator"),
  cam: $("cam-indicator"),
  idle: $("idle-minutes"),
};

const STATUS_TEXT = {
  attract: "Say hello",
  listening: "I'm listening…",
  thinking: "Thinking…",
  speaking: "Speaking",
  reconnecting: "Reconnecting…",
  error: "Something went wrong",
};

const player = new Player();
const mic = new MicCapture();
const camera = new CameraCapture();
const timeline = new CueTimeline();

const kiosk = {
  conn: null,
  avatar: null,
  active: false, // a session is wanted (the microphone is open)
  engaged: false, // someone is talking with the kiosk in this session
  turnBusy: false, // a turn is queued or running
  speakingSince: 0, // when the VAD heard the user start (0: not speaking)
  replyTurn: null, // the turn whose reply is shown
  videoPlaying: false,
  lastActivity: performance.now(),
  errorText: "",
  echoWarning: "", // set when the browser cannot cancel echo
  starting: null,
};

// --- state and captions -----------------------------------------------------------------------

function computeState() {
  if (kiosk.errorText) return "error";
  if (!kiosk.active) return "attract";
  const conn = kiosk.conn;
  if (conn && (conn.state === "reconnecting" || (conn.state === "connecting" && conn.sessionId))) {
    return "reconnecting";
  }
  if (player.playing || kiosk.videoPlaying) return "speaking";
  if (kiosk.turnBusy) return "thinking";
  return kiosk.engaged ? "listening" : "attract";
}

function render() {
  const state = computeState();
  const body = document.body.dataset;
  if (body.state !== state) body.state = state;
  const playing = String(player.playing || kiosk.videoPlaying);
  if (body.playing !== playing) body.playing = playing;
  const session = (kiosk.conn && kiosk.active && kiosk.conn.sessionId) || "";
  if (body.session !== session) body.session = session;
  let text = STATUS_TEXT[state];
  if (state === "error") text = kiosk.errorText;
  if (state === "attract" && kiosk.active) text = "Say hello — I'm listening";
  if (kiosk.echoWarning && (state === "attract" || state === "listening")) {
    text = `${text.replace(/[.…]+$/, "")}. ${kiosk.echoWarning}`;
  }
  if (ui.status.textContent !== text) ui.status.textContent = text;
  ui.start.hidden = kiosk.active;
  ui.hint.hidden = !kiosk.active;
  setIndicator(ui.mic, mic.active, "Microphone");
  setIndicator(ui.cam, camera.active, "Camera");
}

function setIndicator(element, on, name) {
  const value = String(Boolean(on));
  if (element.dataset.on === value) return;
  element.dataset.on = value;
  element.querySelector(".indicator-label").textContent = `${name} ${on ? "on" : "off"}`;
}

function setCaption(which, text) {
  const [caption, span] =
    which === "user" ? [ui.userCaption, ui.userText] : [ui.replyCaption, ui.replyText];
  span.textContent = text;
  caption.hidden = !text;
}

function clearCaptions() {
  setCaption("user", "");
  setCaption("reply", "");
}

function touch() {
  kiosk.lastActivity = performance.now();
}

// --- the conversation -------------------------------------------------------------------------

function newConnection() {
  const conn = new AttuneConnection({
    capabilities: options.video
      ? { text: true, audio: false, avatar: false, video: true }
      : { text: true, audio: true, avatar: true, video: false },
    audioOut: "pcm16",
    reconnect: true,
  });
  conn.addEventListener("message", (event) => onMessage(conn, event.detail));
  conn.addEventListener("state", () => {
    if (conn !== kiosk.conn) return;
    if (conn.state === "reconnecting") {
      // whatever was in flight is lost with the socket; the session itself resumes
      kiosk.turnBusy = false;
      kiosk.speakingSince = 0;
    }
    render();
  });
  conn.addEventListener("session", () => {
    if (conn !== kiosk.conn || !kiosk.active) return;
    // a new socket: open the microphone stream on it again
    conn.startAudio({ mode: "open", bargeIn: true });
    render();
  });
  return conn;
}

/** Start a session and open the microphone (on a tap or key, or at once with ?autostart). */
async function begin({ engaged }) {
  if (kiosk.starting) return kiosk.starting;
  kiosk.starting = (async () => {
    kiosk.errorText = "";
    player.resume();
    if (engaged) kiosk.engaged = true;
    touch();
    if (!kiosk.active) {
      kiosk.active = true;
      kiosk.conn = newConnection();
      render();
      try {
        await mic.start((chunk) => {
          if (kiosk.conn) kiosk.conn.sendAudio(chunk);
        });
      } catch (error) {
        kiosk.active = false;
        kiosk.conn = null;
        kiosk.errorText = error.message || "The microphone could not be started.";
        render();
        return;
      }
      if (mic.processing.echoCancellation === false) {
        // for whoever sets the kiosk up: its own voice may come back through the microphone
        kiosk.echoWarning =
          "This browser does not cancel echo: I may hear myself. A headset helps.";
      }
      try {
        await kiosk.conn.connect(); // the "session" listener opens the audio stream
      } catch {
        // connect() retries by itself while reconnect is on; it only rejects once closed
      }
    }
    if (kiosk.engaged) startCamera();
    render();
  })().finally(() => {
    kiosk.starting = null;
  });
  return kiosk.starting;
}

async function startCamera() {
  if (camera.active) return;
  try {
    await camera.start({ fps: 2, maxSide: 480, quality: 0.7 });
  } catch {
    // the kiosk works without a camera: the indicator stays off
  }
  render();
}

/** Someone started talking with the kiosk. */
function engage() {
  if (!kiosk.engaged) {
    kiosk.engaged = true;
    startCamera();
  }
  touch();
}

/** End the session (forgetting it), clear everything shown, and return to the attract state. */
async function resetSession() {
  const conn = kiosk.conn;
  kiosk.conn = null;
  kiosk.active = false;
  kiosk.engaged = false;
  kiosk.turnBusy = false;
  kiosk.speakingSince = 0;
  kiosk.replyTurn = null;
  stopReply();
  clearCaptions();
  camera.stop();
  render();
  await mic.stop();
  if (conn) {
    try {
      await conn.end({ forget: true });
    } catch {
      // the socket is gone: nothing more to do here
    }
  }
  render();
  if (options.autostart) begin({ engaged: false });
}

/** Stop the reply playing now (audio, cues, video); returns the seconds played. */
function stopReply() {
  let played = player.flush();
  timeline.clear();
  if (kiosk.videoPlaying || !ui.video.paused) {
    played = ui.video.currentTime || 0;
    ui.video.pause();
    hideVideo();
  }
  return played;
}

function hideVideo() {
  kiosk.videoPlaying = false;
  ui.video.hidden = true;
  ui.video.removeAttribute("src");
  ui.video.load();
  ui.canvas.hidden = false;
  touch();
  render();
}

/** The reply caption follows turn `turnId`: a new turn starts it empty. */
function showReplyOf(turnId) {
  if (turnId === kiosk.replyTurn) return;
  kiosk.replyTurn = turnId;
  setCaption("reply", "");
}

function onMessage(conn, msg) {
  if (conn !== kiosk.conn) return;
  switch (msg.type) {
    case "speech.started":
      engage();
      kiosk.speakingSince = performance.now();
      break;
    case "transcript.partial":
      // the visitor's words as they speak; the turn's transcript replaces them
      if (typeof msg.text === "string") setCaption("user", msg.text.trim());
      break;
    case "speech.barge_in":
      // a real interruption (not "mm-hmm"): stop at once and tell the server how much was heard
      if (player.playing || kiosk.videoPlaying) {
        const turnId = player.turnId || kiosk.replyTurn;
        const played = stopReply();
        conn.interrupt({ turnId, playedSeconds: played });
      }
      break;
    case "speech.backchannel":
      // the visitor is following ("mm-hmm", "okay"): the reply goes on
      kiosk.backchannels = (kiosk.backchannels || 0) + 1;
      document.body.dataset.backchannels = String(kiosk.backchannels);
      break;
    case "turn.queued":
      engage();
      kiosk.turnBusy = true;
      kiosk.speakingSince = 0;
      break;
    case "perception":
      if (msg.turn_id) showReplyOf(msg.turn_id);
      if (msg.data && msg.data.transcript && typeof msg.data.transcript.text === "string") {
        setCaption("user", msg.data.transcript.text.trim());
      }
      touch();
      break;
    case "reply.delta":
      showReplyOf(msg.turn_id);
      setCaption("reply", ui.replyText.textContent + ((msg.data && msg.data.text) || ""));
      break;
    case "audio.chunk":
      if (msg.turn_id !== player.turnId) timeline.clear(); // a new reply
      if (msg.audio) {
        player.enqueue(msg.audio, {
          sampleRate: msg.sample_rate,
          format: msg.format,
          offset: msg.offset,
          duration: msg.duration,
          turnId: msg.turn_id,
        });
      }
      break;
    case "avatar.cues":
      if (msg.data && msg.data.cues) timeline.add(msg.data.cues);
      break;
    case "avatar.video":
      playVideo(msg.url);
      break;
    case "reply.done":
      kiosk.turnBusy = false;
      if (msg.data && typeof msg.data.text === "string" && msg.data.text) {
        setCaption("reply", msg.data.text);
      }
      touch();
      break;
    case "turn.interrupted":
      kiosk.turnBusy = false;
      touch();
      break;
    case "error":
      if (msg.turn_id || msg.ref) kiosk.turnBusy = false;
      kiosk.speakingSince = 0;
      break;
    default:
      break;
  }
  render();
}

function playVideo(url) {
  if (!url || !url.startsWith("/video/")) return;
  ui.video.src = url;
  ui.video.hidden = false;
  ui.canvas.hidden = true;
  kiosk.videoPlaying = true;
  render();
  ui.video.play().catch(() => {
    // autoplay refused (no gesture and no autoplay policy): show the idle face again
    hideVideo();
  });
}

ui.video.addEventListener("ended", hideVideo);
ui.video.addEventListener("error", () => {
  if (kiosk.videoPlaying) hideVideo();
});

player.addEventListener("start", render);
player.addEventListener("end", () => {
  touch();
  render();
});
player.addEventListener("flush", render);

mic.addEventListener("level", (event) => {
  const rms = (event.detail && event.detail.rms) || 0;
  const level = Math.min(1, Math.sqrt(rms) * 3);
  ui.mic.querySelector(".level-bar").style.transform = `scaleX(${level.toFixed(2)})`;
});

// --- idle timeout -----------------------------------------------------------------------------

setInterval(() => {
  if (!kiosk.active || !kiosk.engaged) return;
  // an utterance the VAD is still hearing counts as activity (up to a minute)
  const speaking = kiosk.speakingSince && performance.now() - kiosk.speakingSince < 60_000;
  if (kiosk.turnBusy || speaking || player.playing || kiosk.videoPlaying) {
    touch();
    return;
  }
  if (performance.now() - kiosk.lastActivity > options.idleSeconds * 1000) resetSession();
}, 500);

// --- the face ---------------------------------------------------------------------------------

let shown = null;
let lastTick = performance.now();

function tick(now) {
  const avatar = kiosk.avatar;
  if (avatar && !ui.canvas.hidden) {
    const dt = Math.min(0.25, (now - lastTick) / 1000);
    const t = player.replyTime();
    let cue = t >= 0 ? timeline.at(t) : null;
    if (cue && reducedMotionQuery.matches) cue = { ...cue, head_yaw: 0, head_pitch: 0, head_roll: 0 };
    const idle = avatar.neutralCue(now / 1000);
    // speech is shown frame-exact; back at rest the face eases over ~0.15 s
    shown = cue || (shown ? blendCue(shown, idle, 1 - Math.exp(-dt / 0.15)) : idle);
    avatar.drawFrame(shown);
  }
  lastTick = now;
  requestAnimationFrame(tick);
}

// --- start ------------------------------------------------------------------------------------

function onUserStart(event) {
  if (kiosk.starting) return;
  if (kiosk.active) {
    engage();
    render();
    return;
  }
  if (event.type === "keydown" && (event.ctrlKey || event.metaKey || event.altKey)) return;
  if (event.type === "keydown" && event.key === "Tab") return;
  event.preventDefault();
  begin({ engaged: true });
}

async function main() {
  const seconds = options.idleSeconds;
  ui.idle.textContent =
    seconds >= 120 && seconds % 60 === 0 ? `${seconds / 60} minutes` : `${seconds} seconds`;
  reducedMotionQuery.addEventListener("change", () => {
    if (kiosk.avatar) kiosk.avatar.reducedMotion = reducedMotionQuery.matches;
  });
  render();
  try {
    kiosk.avatar = await createAvatar(ui.canvas, {
      style: options.style,
      reducedMotion: reducedMotionQuery.matches,
    });
    document.body.dataset.avatar = kiosk.avatar.style;
  } catch {
    kiosk.errorText = "The avatar could not be shown.";
  }
  requestAnimationFrame(tick);
  ui.start.addEventListener("click", onUserStart);
  document.addEventListener("keydown", onUserStart);
  document.addEventListener("pointerdown", (event) => {
    if (event.target !== ui.start) onUserStart(event);
  });
  if (options.autostart) begin({ engaged: false });
  render();
}

// Test hooks (no user content): the avatar, and dropping the socket as a network failure would.
window.attuneKiosk = {
  get avatar() {
    return kiosk.avatar;
  },
  get connectionState() {
    return kiosk.conn ? kiosk.conn.state : "closed";
  },
  dropConnection() {
    const ws = kiosk.conn && kiosk.conn._ws;
    if (ws) ws.close(4000, "test: dropped");
    return Boolean(ws);
  },
};

main();
