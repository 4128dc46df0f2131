// The Attune chat page: text, push-to-talk, open microphone, camera, spoken replies, and an
// inspector per turn that shows how Attune read the message and chose its answer.
//
// Privacy: nothing the user says or Attune replies is logged to the console.

import { AttuneConnection } from "./connection.js";
import { MicCapture, Player } from "./audio.js";
import { CameraCapture } from "./camera.js";

const STORAGE_KEY = "attune.sessionId";
const SPEAK_KEY = "attune.speak";

/** Polite words for the server's error codes, from the protocol's JSON Schema (the one list of
 * codes, `$defs.ErrorCode["x-user-text"]`, served at /protocol.schema.json); null means "do not
 * show", a code without words shows the server's message. */
let ERROR_TEXT = {};
const errorTextLoaded = fetch(new URL("protocol.schema.json", document.baseURI))
  .then((response) => (response.ok ? response.json() : null))
  .then((schema) => {
    ERROR_TEXT = schema?.$defs?.ErrorCode?.["x-user-text"] ?? {};
  })
  .catch(() => {});

const STATE_TEXT = {
  connecting: "Connecting…",
  idle: "Ready",
  listening: "Listening…",
  thinking: "Thinking…",
  speaking: "Speaking…",
  error: "Connection problem",
};

const $ = (id) => document.getElementById(id);

const els = {
  log: $("log"),
  emptyHint: $("empty-hint"),
  form: $("composer"),
  message: $("message"),
  send: $("send"),
  hint: $("composer-hint"),
  mic: $("mic"),
  micLabel: $("mic-label"),
  openMic: $("open-mic"),
  camera: $("camera"),
  speak: $("speak"),
  stop: $("stop"),
  retry: $("retry"),
  forget: $("forget"),
  stateText: $("state-text"),
  micIndicator: $("mic-indicator"),
  micStatus: $("mic-status"),
  micLevel: $("mic-level"),
  cameraIndicator: $("camera-indicator"),
  cameraStatus: $("camera-status"),
  cameraPanel: $("camera-panel"),
  preview: $("camera-preview"),
  faceReading: $("face-reading"),
  crisis: $("crisis"),
  crisisText: $("crisis-text"),
  crisisResources: $("crisis-resources"),
  crisisClose: $("crisis-close"),
};

// --- small DOM helpers -------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const pct = (x) => `${Math.round(Math.max(0, Math.min(1, Number(x) || 0)) * 100)}%`;

/** Sorted [label, score] pairs, highest first. */
function ranked(scores, limit = Infinity) {
  return Object.entries(scores || {})
    .filter(([, v]) => typeof v === "number")
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit);
}

/** A list of labelled horizontal bars; `highlight` marks one label. */
function bars(pairs, { highlight = null, label = "" } = {}) {
  const list = el("ul", { class: "bars", "aria-label": label || null });
  for (const [name, value] of pairs) {
    const chosen = highlight !== null && name === highlight;
    const fill = el("span", { class: "bar-fill" });
    fill.style.width = pct(value);
    list.append(
      el(
        "li",
        { class: chosen ? "bar-row chosen" : "bar-row", dataset: { label: name } },
        el(
          "span",
          { class: "bar-label" },
          chosen ? el("span", { class: "chosen-mark", "aria-hidden": "true", text: "✓ " }) : null,
          name,
          chosen ? el("span", { class: "visually-hidden", text: " (chosen)" }) : null
        ),
        el("span", { class: "bar-track", "aria-hidden": "true" }, fill),
        el("span", { class: "bar-value", text: pct(value) })
      )
    );
  }
  return list;
}

// --- state -------------------------------------------------------------------------------------

const player = new Player();
const mic = new MicCapture();
const camera = new CameraCapture();

const speakPref = sessionStorage.getItem(SPEAK_KEY);
els.speak.checked = speakPref === null ? true : speakPref === "true";

const conn = new AttuneConnection({
  capabilities: { text: true, audio: els.speak.checked, avatar: false, video: false },
  audioOut: "pcm16",
  sessionId: sessionStorage.getItem(STORAGE_KEY),
});

const ui = {
  micMode: null, // null | "push" | "open"
  pttHeld: false,
  connectionLost: false,
  renderedSession: null,
  turns: [], // every turn record, in order
  byTurnId: new Map(),
  interrupted: new Set(), // turn ids whose audio must no longer play
  backchannels: 0, // "mm-hmm"s heard while Attune spoke (a signal, not an interruption)
  live: null, // the open microphone's live transcript bubble: {item, body}
};

/** A turn as the page tracks it. */
function newTurn({ ref = null, kind = "text", text = null }) {
  const turn = {
    ref,
    kind, // "text" | "push" | "open" | "history"
    turnId: null,
    queued: false,
    status: kind === "push" ? "recording" : "pending", // recording | pending | done
    replyText: "",
    userItem: null,
    userText: null,
    botItem: null,
    botText: null,
    botNotes: null,
    inspector: null,
  };
  if (text !== null || kind !== "open") {
    addUserBubble(turn, text);
  }
  ui.turns.push(turn);
  return turn;
}

function findTurn(msg) {
  if (msg.turn_id && ui.byTurnId.has(msg.turn_id)) return ui.byTurnId.get(msg.turn_id);
  if (msg.turn_id) {
    // the first queued turn without an id is the one running now (turns run in order)
    const waiting = ui.turns.find(
      (t) => t.status !== "done" && t.turnId === null && t.queued && (!msg.ref || t.ref === msg.ref)
    );
    const turn = waiting || newTurn({ ref: msg.ref || null, kind: "open" });
    turn.turnId = msg.turn_id;
    turn.queued = true;
    ui.byTurnId.set(msg.turn_id, turn);
    return turn;
  }
  if (msg.ref) {
    return ui.turns.find((t) => t.ref === msg.ref && t.status !== "done") || null;
  }
  return null;
}

function pendingTurns() {
  return ui.turns.some((t) => t.status === "pending");
}

function runningTurn() {
  return ui.turns.find((t) => t.status === "pending" && t.turnId) || null;
}

function updateState() {
  let state;
  const cs = conn.state;
  if (ui.connectionLost || (cs === "closed" && ui.renderedSession !== null)) state = "error";
  else if (cs !== "open") state = "connecting";
  else if (player.playing) state = "speaking";
  else if (ui.micMode === "push") state = "listening";
  else if (pendingTurns()) state = "thinking";
  else if (ui.micMode === "open") state = "listening";
  else state = "idle";
  document.body.dataset.state = state;
  document.body.dataset.playing = player.playing ? "true" : "false";
  els.stateText.textContent = STATE_TEXT[state];
  els.retry.hidden = state !== "error";
  els.stop.hidden = !(player.playing || runningTurn());
  const open = cs === "open";
  els.send.disabled = !open;
  els.mic.disabled = !open || ui.micMode === "open";
  els.openMic.disabled = !open && ui.micMode !== "open";
  els.forget.disabled = !open;
}

function setMicIndicator() {
  const on = mic.active;
  els.micIndicator.dataset.on = on ? "true" : "false";
  els.micStatus.textContent = on ? (ui.micMode === "open" ? "on (open microphone)" : "on (push to talk)") : "off";
  if (!on) els.micLevel.style.width = "0";
}

function setCameraIndicator() {
  const on = camera.active;
  els.cameraIndicator.dataset.on = on ? "true" : "false";
  els.cameraStatus.textContent = on ? "on" : "off";
  els.camera.setAttribute("aria-pressed", on ? "true" : "false");
  els.cameraPanel.hidden = !on;
}

function setHint(text, kind = "info") {
  els.hint.textContent = text || "";
  els.hint.dataset.kind = kind;
}

function scrollToEnd() {
  const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const last = els.log.lastElementChild;
  if (last) last.scrollIntoView({ block: "end", behavior: reduce ? "auto" : "smooth" });
}

// --- the conversation --------------------------------------------------------------------------

function addUserBubble(turn, text) {
  const body = el("p", { class: "bubble-text" });
  if (text === null) {
    body.textContent = turn.kind === "push" ? "Listening…" : "…";
    body.classList.add("placeholder");
  } else {
    body.textContent = text;
  }
  const item = el(
    "li",
    { class: "msg msg-user", dataset: { kind: turn.kind } },
    el("span", { class: "visually-hidden", text: "You said: " }),
    el("div", { class: "bubble" }, body)
  );
  els.log.append(item);
  els.emptyHint.hidden = true;
  turn.userItem = item;
  turn.userText = body;
  scrollToEnd();
}

/** Open microphone: what the person has said so far, in a bubble that becomes their message. */
function showLiveTranscript(text) {
  if (!ui.live) {
    const body = el("p", { class: "bubble-text" });
    const item = el(
      "li",
      { class: "msg msg-user msg-live", dataset: { kind: "open" }, "aria-live": "polite" },
      el("span", { class: "visually-hidden", text: "You are saying: " }),
      el("div", { class: "bubble" }, body)
    );
    els.log.append(item);
    els.emptyHint.hidden = true;
    ui.live = { item, body };
  }
  ui.live.body.textContent = text;
  scrollToEnd();
}

function dropLiveTranscript() {
  if (ui.live) ui.live.item.remove();
  ui.live = null;
}

function setUserText(turn, text) {
  if (!turn.userText && ui.live && turn.kind === "open") {
    // the live bubble becomes the message, with the final transcript
    turn.userItem = ui.live.item;
    turn.userText = ui.live.body;
    turn.userItem.classList.remove("msg-live");
    turn.userItem.removeAttribute("aria-live");
    turn.userItem.querySelector(".visually-hidden").textContent = "You said: ";
    ui.live = null;
  }
  if (!turn.userText) addUserBubble(turn, null);
  turn.userText.textContent = text;
  turn.userText.classList.remove("placeholder");
}

function botBubble(turn) {
  if (turn.botItem) return turn;
  const text = el("p", { class: "bubble-text" });
  const notes = el("div", { class: "bubble-notes" });
  const inspector = el(
    "details",
    { class: "inspector" },
    el("summary", { text: "How Attune read this" }),
    el("div", { class: "inspector-body" })
  );
  const item = el(
    "li",
    { class: "msg msg-bot", "aria-busy": "true", dataset: { status: "streaming" } },
    el("span", { class: "visually-hidden", text: "Attune: " }),
    el("div", { class: "bubble" }, text, notes),
    inspector
  );
  if (turn.turnId) item.dataset.turnId = turn.turnId;
  els.log.append(item);
  els.emptyHint.hidden = true;
  turn.botItem = item;
  turn.botText = text;
  turn.botNotes = notes;
  turn.inspector = inspector;
  scrollToEnd();
  return turn;
}

function addNote(turn, text, kind = "info") {
  botBubble(turn);
  turn.botNotes.append(el("p", { class: `note note-${kind}`, text }));
}

function finishTurn(turn) {
  if (turn.status === "done") return;
  turn.status = "done";
  if (turn.botItem) {
    turn.botItem.removeAttribute("aria-busy");
    if (turn.botItem.dataset.status === "streaming") turn.botItem.dataset.status = "done";
  }
  if (turn.userText && turn.userText.classList.contains("placeholder")) {
    turn.userText.textContent = "(nothing heard)";
  }
  maybeApplyCapabilities();
  updateState();
}

/**
 * An inline note in the log that belongs to no reply (errors, connection news): under `after`
 * (the message it is about) when that is on the page, else at the end. `code`: the error code.
 */
function systemNote(text, { kind = "error", code = null, after = null } = {}) {
  const note = el("li", {
    class: `msg msg-system note-${kind}`,
    role: "note",
    dataset: code ? { errorCode: code } : null,
    text,
  });
  if (after && after.isConnected) after.after(note);
  else els.log.append(note);
  els.emptyHint.hidden = true;
  scrollToEnd();
}

// --- the inspector -----------------------------------------------------------------------------

const SECTION_ORDER = ["text_emotion", "speech_emotion", "face", "affect", "safety", "appraisal", "strategy"];

function section(turn, key, title, content) {
  botBubble(turn);
  const body = turn.inspector.querySelector(".inspector-body");
  let box = body.querySelector(`[data-section="${key}"]`);
  const fresh = el("section", { class: "insp-section", dataset: { section: key } }, el("h3", { text: title }), content);
  if (box) {
    box.replaceWith(fresh);
    return;
  }
  // keep a stable order whatever order the messages come in
  const rank = SECTION_ORDER.indexOf(key);
  const after = [...body.children].find((c) => SECTION_ORDER.indexOf(c.dataset.section) > rank);
  body.insertBefore(fresh, after || null);
}

function renderTextEmotion(turn, te) {
  const top = ranked(te.scores, 4);
  section(
    turn,
    "text_emotion",
    "Words (text emotion)",
    el(
      "div",
      {},
      bars(top, { label: "Top emotions in the words" }),
      el("p", { class: "insp-meta", text: `valence ${fmt(te.valence)}, arousal ${fmt(te.arousal)}` })
    )
  );
}

function renderSpeechEmotion(turn, se) {
  const parts = [];
  const top = ranked(se.scores, 4);
  if (top.length) parts.push(bars(top, { label: "Emotions in the voice" }));
  parts.push(
    el("p", {
      class: "insp-meta",
      text:
        `arousal ${fmt(se.arousal)}, valence ${fmt(se.valence)}, confidence ${pct(se.confidence)}` +
        (se.cues && se.cues.length ? ` (${se.cues.join(", ")})` : ""),
    })
  );
  section(turn, "speech_emotion", "Voice (speech emotion)", el("div", {}, ...parts));
}

function renderFace(turn, face) {
  let content;
  if (!face || !face.detected) {
    content = el("p", { class: "insp-meta", text: "No face was seen." });
  } else {
    content = el(
      "div",
      {},
      el("p", { class: "insp-meta", text: `${face.label || "unknown"}, confidence ${pct(face.confidence)}` }),
      bars(ranked(face.scores, 3), { label: "Facial expression" })
    );
  }
  section(turn, "face", "Face", content);
}

function renderAffect(turn, affect) {
  const parts = [
    el(
      "p",
      { class: "insp-lead" },
      "Overall: ",
      el("strong", { text: affect.label || "unknown" }),
      affect.incongruent ? el("span", { class: "badge badge-warn", title: "The modalities disagree", text: "Incongruent: mixed signals" }) : null
    ),
    bars(ranked(affect.scores), { highlight: affect.label, label: "Fused affect" }),
  ];
  if (affect.explanation) parts.push(el("p", { class: "explanation", text: affect.explanation }));
  const conf = Object.entries(affect.confidence || {})
    .map(([k, v]) => `${k} ${pct(v)}`)
    .join(", ");
  parts.push(
    el("p", {
      class: "insp-meta",
      text: `valence ${fmt(affect.valence)}, arousal ${fmt(affect.arousal)}` + (conf ? `; weight: ${conf}` : ""),
    })
  );
  section(turn, "affect", "Fused affect", el("div", {}, ...parts));
  if (affect.incongruent) {
    turn.botItem.dataset.incongruent = "true";
  }
}

function renderAppraisal(turn, ap) {
  const steps = [
    ["Event", ap.event],
    ["Emotion", ap.emotion],
    ["Cause", ap.cause],
    ["Goal", ap.goal],
  ];
  const chain = el("ol", { class: "chain", "aria-label": "Chain of empathy: event, emotion, cause, goal" });
  for (const [name, value] of steps) {
    chain.append(
      el("li", {}, el("span", { class: "chain-step", text: name }), el("span", { class: "chain-text", text: value || "—" }))
    );
  }
  section(turn, "appraisal", "Appraisal (chain of empathy)", chain);
}

function renderStrategy(turn, st) {
  const parts = [
    el(
      "p",
      { class: "insp-lead" },
      "Chosen: ",
      el("strong", { text: st.strategy }),
      st.overridden ? el("span", { class: "badge badge-warn", text: "Overridden" }) : null
    ),
    bars(ranked(st.probabilities), { highlight: st.strategy, label: "Strategy probabilities" }),
  ];
  const meta = [st.planner ? `planner: ${st.planner}` : null, st.reason ? `reason: ${st.reason}` : null].filter(Boolean);
  if (meta.length) parts.push(el("p", { class: "insp-meta", text: meta.join("; ") }));
  section(turn, "strategy", "Support strategy", el("div", {}, ...parts));
}

const TIER_TEXT = {
  none: "No risk found in this message.",
  concern: "Attune heard something worth asking about gently, and ended its reply with a check-in question.",
};

// the graded safety check of every turn: none / concern / crisis, with the reason; concern is
// shown here only (never the crisis banner)
function renderSafety(turn, data) {
  const tier = data.tier || "none";
  turn.safety = data;
  if (tier === "crisis") return; // the crisis event follows and fills the section
  const parts = [
    el(
      "p",
      { class: "insp-lead" },
      el("span", { class: tier === "concern" ? "badge badge-info" : "badge", text: tier === "concern" ? "Concern" : "None" }),
      ` ${TIER_TEXT[tier] || ""}`
    ),
  ];
  if (data.reason) parts.push(el("p", { class: "insp-meta", text: `reason: ${data.reason}` }));
  section(turn, "safety", "Safety", el("div", {}, ...parts));
  turn.botItem.dataset.tier = tier;
}

function renderCrisis(turn, data) {
  const reason = turn.safety && turn.safety.reason;
  section(
    turn,
    "safety",
    "Safety",
    el(
      "div",
      {},
      el(
        "p",
        { class: "insp-lead" },
        el("span", { class: "badge badge-danger", text: "Crisis" }),
        ` ${String(data.category || "").replaceAll("_", " ")} (confidence ${pct(data.confidence)}). Attune answered with a safe reply and resources.`
      ),
      reason ? el("p", { class: "insp-meta", text: `reason: ${reason}` }) : null
    )
  );
  turn.botItem.dataset.tier = "crisis";
  showCrisis(data);
}

function showCrisis(data) {
  els.crisisResources.replaceChildren();
  for (const r of data.resources || []) {
    const contact = r.url ? el("a", { href: r.url, rel: "noopener noreferrer", target: "_blank", text: r.contact }) : el("strong", { text: r.contact });
    els.crisisResources.append(el("li", {}, el("span", { class: "resource-name", text: r.name }), ": ", contact, r.description ? ` (${r.description})` : ""));
  }
  if (!(data.resources || []).length) {
    els.crisisResources.append(el("li", { text: "Please contact your local emergency number now." }));
  }
  els.crisis.hidden = false;
}

function fmt(x) {
  return typeof x === "number" ? x.toFixed(2) : "—";
}

// --- server messages ---------------------------------------------------------------------------

conn.addEventListener("state", () => {
  if (conn.state === "reconnecting" && ui.renderedSession !== null) ui.connectionLost = true;
  updateState();
});

conn.addEventListener("session", (event) => {
  const msg = event.detail;
  ui.connectionLost = false;
  sessionStorage.setItem(STORAGE_KEY, msg.session_id);
  if (ui.renderedSession !== msg.session_id) {
    renderHistory(msg.history || []);
    ui.renderedSession = msg.session_id;
  }
  // turns that were in flight on a dropped socket are gone with it
  for (const t of ui.turns) {
    if (t.status === "pending") {
      const note = "The connection dropped before this was answered. Please send it again.";
      if (t.botItem) addNote(t, note, "error");
      else if (t.userItem) systemNote(note, { after: t.userItem });
      finishTurn(t);
    }
  }
  if (ui.micMode === "open" && mic.active) {
    conn.startAudio({ mode: "open", bargeIn: true });
  }
  updateState();
});

conn.addEventListener("message", (event) => onMessage(event.detail));

function renderHistory(history) {
  els.log.replaceChildren();
  ui.turns = [];
  ui.byTurnId.clear();
  let current = null;
  for (const m of history) {
    if (m.role === "user") {
      current = newTurn({ kind: "history", text: m.content });
      current.status = "done";
    } else if (m.role === "assistant") {
      if (!current) {
        current = newTurn({ kind: "history", text: null });
        current.status = "done";
        current.userItem.remove();
      }
      botBubble(current);
      current.botText.textContent = m.content;
      current.botItem.removeAttribute("aria-busy");
      current.botItem.dataset.status = m.interrupted ? "interrupted" : "done";
      if (m.interrupted) addNote(current, "Interrupted", "muted");
      if (m.strategy) renderStrategy(current, m.strategy);
      else current.inspector.remove();
      current = null;
    }
  }
  els.emptyHint.hidden = history.length > 0;
}

function onMessage(msg) {
  switch (msg.type) {
    case "turn.queued": {
      const turn =
        ui.turns.find((t) => t.ref === msg.ref && !t.queued && t.status !== "done") ||
        newTurn({ ref: msg.ref, kind: "open" });
      turn.queued = true;
      if (turn.status === "recording") turn.status = "pending";
      break;
    }
    case "perception": {
      const turn = findTurn(msg);
      if (!turn) break;
      const d = msg.data || {};
      if (d.transcript) {
        setUserText(turn, d.transcript.text || "(nothing heard)");
      }
      if (d.text_emotion) renderTextEmotion(turn, d.text_emotion);
      if (d.speech_emotion) renderSpeechEmotion(turn, d.speech_emotion);
      if (d.face) renderFace(turn, d.face);
      if (d.affect) renderAffect(turn, d.affect);
      break;
    }
    case "safety": {
      const turn = findTurn(msg);
      if (turn) renderSafety(turn, msg.data || {});
      break;
    }
    case "crisis": {
      const turn = findTurn(msg);
      if (turn) renderCrisis(turn, msg.data || {});
      else showCrisis(msg.data || {});
      break;
    }
    case "appraisal": {
      const turn = findTurn(msg);
      if (turn && msg.data && msg.data.appraisal) renderAppraisal(turn, msg.data.appraisal);
      break;
    }
    case "strategy": {
      const turn = findTurn(msg);
      if (turn && msg.data && msg.data.strategy) renderStrategy(turn, msg.data.strategy);
      break;
    }
    case "reply.delta": {
      const turn = findTurn(msg);
      if (!turn || ui.interrupted.has(turn.turnId)) break;
      botBubble(turn);
      turn.replyText += (msg.data && msg.data.text) || "";
      turn.botText.textContent = turn.replyText;
      scrollToEnd();
      break;
    }
    case "audio.chunk": {
      const turn = findTurn(msg);
      if (!msg.audio || !els.speak.checked) break;
      if (turn && (ui.interrupted.has(turn.turnId) || turn.status === "done" && turn.interruptedLocally)) break;
      player.enqueue(msg.audio, {
        sampleRate: msg.sample_rate,
        format: msg.format,
        offset: msg.offset,
        duration: msg.duration,
        turnId: msg.turn_id,
      });
      updateState();
      break;
    }
    case "reply.done": {
      const turn = findTurn(msg);
      if (!turn) break;
      const d = msg.data || {};
      botBubble(turn);
      if (!ui.interrupted.has(turn.turnId) && typeof d.text === "string" && d.text) {
        turn.replyText = d.text;
        turn.botText.textContent = d.text;
      }
      const result = d.result || {};
      // a turn whose perception events were missed still gets its inspector from the result
      if (result.face && !turn.inspector.querySelector('[data-section="face"]')) renderFace(turn, result.face);
      if (result.affect && !turn.inspector.querySelector('[data-section="affect"]')) renderAffect(turn, result.affect);
      if (result.strategy && !turn.inspector.querySelector('[data-section="strategy"]')) renderStrategy(turn, result.strategy);
      if (result.interrupted || ui.interrupted.has(turn.turnId)) markInterrupted(turn, null);
      finishTurn(turn);
      break;
    }
    case "turn.interrupted": {
      const turn = findTurn(msg);
      if (!turn) break;
      markInterrupted(turn, typeof msg.said === "string" ? msg.said : null);
      finishTurn(turn);
      break;
    }
    case "speech.barge_in": {
      // open microphone: the server heard a real interruption (not "mm-hmm"); stop Attune now
      bargeIn();
      break;
    }
    case "transcript.partial": {
      if (ui.micMode === "open" && typeof msg.text === "string") showLiveTranscript(msg.text);
      break;
    }
    case "speech.backchannel": {
      // "mm-hmm", "okay" while Attune speaks: the person is following; the reply goes on
      dropLiveTranscript();
      ui.backchannels += 1;
      document.body.dataset.backchannels = String(ui.backchannels);
      break;
    }
    case "face.reading":
      showFaceReading(msg.face);
      break;
    case "error":
      onError(msg);
      break;
    default:
      break;
  }
  updateState();
}

function markInterrupted(turn, said) {
  botBubble(turn);
  turn.botItem.dataset.status = "interrupted";
  let note = turn.botNotes.querySelector(".note-interrupted");
  if (!note) {
    note = el("p", { class: "note note-interrupted" });
    turn.botNotes.append(note);
  }
  if (said === null) {
    if (!note.textContent) note.textContent = "Interrupted.";
  } else if (said.trim()) {
    note.textContent = `Interrupted. You heard: “${said.trim()}”`;
  } else {
    note.textContent = "Interrupted before anything was said.";
  }
}

function onError(msg) {
  const code = msg.code || "error";
  const text = code in ERROR_TEXT ? ERROR_TEXT[code] : msg.message || "Something went wrong.";
  const turn = msg.turn_id || msg.ref ? findTurn(msg) : null;
  if (turn && turn.status !== "done" && turn.botItem) {
    if (text) addNote(turn, text, "error");
    turn.botItem.dataset.status = "error";
    turn.botItem.dataset.errorCode = code;
    finishTurn(turn);
    return;
  }
  if (text) {
    const about = turn && turn.status !== "done" ? turn.userItem : null;
    systemNote(text, { code, after: about });
  }
  if (turn && turn.status !== "done") finishTurn(turn);
  if (code === "empty_text") setHint(ERROR_TEXT.empty_text, "error");
}

function showFaceReading(face) {
  if (!camera.active || !face) return;
  els.faceReading.dataset.detected = face.detected ? "true" : "false";
  if (face.detected) {
    els.faceReading.dataset.label = face.label || "";
    els.faceReading.replaceChildren(
      "Face: ",
      el("strong", { text: face.label || "unknown" }),
      ` (${pct(face.confidence)} confident)`
    );
  } else {
    els.faceReading.dataset.label = "";
    els.faceReading.textContent = "No face in view";
  }
}

// --- barge-in ----------------------------------------------------------------------------------

/** Stop Attune's audio now and tell the server how much was heard. */
function bargeIn() {
  if (!player.playing) return false;
  const turnId = player.turnId;
  const played = player.flush();
  if (turnId) {
    ui.interrupted.add(turnId);
    const turn = ui.byTurnId.get(turnId);
    if (turn) {
      turn.interruptedLocally = true;
      markInterrupted(turn, null);
    }
  }
  conn.interrupt({ turnId, playedSeconds: played });
  updateState();
  return true;
}

function stopEverything() {
  if (bargeIn()) return;
  const running = runningTurn();
  if (running) {
    ui.interrupted.add(running.turnId);
    conn.interrupt({ turnId: running.turnId });
  }
}

player.addEventListener("start", updateState);
player.addEventListener("end", updateState);
player.addEventListener("flush", updateState);

// --- typing ------------------------------------------------------------------------------------

function sendTyped() {
  const text = els.message.value.trim();
  if (!text) {
    setHint(ERROR_TEXT.empty_text || "", "error");
    els.message.focus();
    return;
  }
  if (conn.state !== "open") {
    setHint("Not connected yet. Your message is still here.", "error");
    return;
  }
  player.resume();
  bargeIn();
  const ref = conn.sendText(text);
  if (!ref) {
    setHint("Could not send. Please try again.", "error");
    return;
  }
  setHint("");
  els.message.value = "";
  newTurn({ ref, kind: "text", text });
  updateState();
}

els.form.addEventListener("submit", (event) => {
  event.preventDefault();
  sendTyped();
});

els.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendTyped();
  }
});

els.message.addEventListener("input", () => {
  if (els.hint.dataset.kind === "error" && els.message.value.trim()) setHint("");
});

// --- push to talk ------------------------------------------------------------------------------

let pttTurn = null;

async function pttStart() {
  if (ui.pttHeld || ui.micMode === "open") return;
  if (conn.state !== "open") {
    setHint("Not connected yet.", "error");
    return;
  }
  ui.pttHeld = true;
  player.resume();
  bargeIn();
  els.mic.setAttribute("aria-pressed", "true");
  els.micLabel.textContent = "Listening… release to send";
  ui.micMode = "push";
  updateState();
  try {
    await mic.start((chunk) => conn.sendAudio(chunk));
  } catch (error) {
    ui.pttHeld = false;
    ui.micMode = null;
    resetMicButton();
    setHint(error.message, "error");
    setMicIndicator();
    updateState();
    return;
  }
  setMicIndicator();
  if (!ui.pttHeld) {
    // released before the microphone was ready
    await mic.stop();
    ui.micMode = null;
    setMicIndicator();
    setHint("Hold the button while you speak.", "info");
    updateState();
    return;
  }
  const ref = conn.startAudio({ mode: "push", bargeIn: false });
  if (!ref) {
    ui.pttHeld = false;
    await mic.stop();
    ui.micMode = null;
    resetMicButton();
    setMicIndicator();
    setHint("Not connected.", "error");
    updateState();
    return;
  }
  setHint("");
  pttTurn = newTurn({ ref, kind: "push" });
}

async function pttStop() {
  if (!ui.pttHeld) return;
  ui.pttHeld = false;
  resetMicButton();
  if (!pttTurn) return; // the start is still running; it will see the release
  const turn = pttTurn;
  pttTurn = null;
  await mic.stop();
  const sent = conn.endAudio();
  ui.micMode = null;
  if (turn.status === "recording") turn.status = "pending";
  if (!sent) {
    // the socket dropped while the button was held: the recording is lost
    systemNote("The connection dropped while you were speaking. Please try again.", {
      after: turn.userItem,
    });
    finishTurn(turn);
  }
  if (turn.userText && turn.userText.classList.contains("placeholder")) turn.userText.textContent = "…";
  setMicIndicator();
  updateState();
}

function resetMicButton() {
  els.mic.setAttribute("aria-pressed", "false");
  els.micLabel.textContent = "Hold to talk";
}

els.mic.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  event.preventDefault();
  try {
    els.mic.setPointerCapture(event.pointerId);
  } catch {
    // synthetic pointers cannot be captured
  }
  pttStart();
});
els.mic.addEventListener("pointerup", () => pttStop());
els.mic.addEventListener("pointercancel", () => pttStop());
els.mic.addEventListener("lostpointercapture", () => pttStop());
els.mic.addEventListener("contextmenu", (event) => event.preventDefault());
// Holding Space (on the focused button, or anywhere outside a field) talks, like holding the
// button; the click a button gets from the keyboard is ignored
els.mic.addEventListener("click", (event) => event.preventDefault());

function spaceTalks(target) {
  if (!(target instanceof Element)) return true;
  if (target === els.mic) return true;
  return !target.closest("textarea, input, select, button, a, summary, [contenteditable]");
}

document.addEventListener("keydown", (event) => {
  if (event.code !== "Space" && event.key !== " ") return;
  if (!spaceTalks(event.target)) return;
  event.preventDefault();
  if (!event.repeat) pttStart();
});

document.addEventListener("keyup", (event) => {
  if (event.code !== "Space" && event.key !== " ") return;
  if (!ui.pttHeld) return;
  event.preventDefault();
  pttStop();
});

window.addEventListener("blur", () => pttStop());

mic.addEventListener("level", (event) => {
  els.micLevel.style.width = pct(Math.min(1, event.detail.rms * 4));
});

// --- open microphone ---------------------------------------------------------------------------

async function toggleOpenMic() {
  if (ui.micMode === "open") {
    ui.micMode = null;
    els.openMic.setAttribute("aria-pressed", "false");
    setHint("");
    await mic.stop();
    conn.endAudio();
    setMicIndicator();
    updateState();
    return;
  }
  if (ui.micMode === "push" || conn.state !== "open") return;
  player.resume();
  ui.micMode = "open";
  els.openMic.setAttribute("aria-pressed", "true");
  updateState();
  try {
    await mic.start((chunk) => conn.sendAudio(chunk));
  } catch (error) {
    ui.micMode = null;
    els.openMic.setAttribute("aria-pressed", "false");
    setHint(error.message, "error");
    setMicIndicator();
    updateState();
    return;
  }
  if (ui.micMode !== "open") {
    await mic.stop();
    return;
  }
  conn.startAudio({ mode: "open", bargeIn: true });
  if (mic.processing.echoCancellation === false) {
    // Attune's own voice could reach the microphone and sound like the person talking
    setHint(
      "The microphone is open, but this browser does not cancel echo: use headphones, or " +
        "Attune may hear itself.",
      "warning"
    );
  } else {
    setHint("The microphone is open: just talk. Turn it off when you're done.", "info");
  }
  setMicIndicator();
  updateState();
}

els.openMic.addEventListener("click", () => toggleOpenMic());

// --- camera ------------------------------------------------------------------------------------

async function toggleCamera() {
  if (camera.active) {
    camera.stop();
    return;
  }
  els.camera.disabled = true;
  const limit = (conn.limits && conn.limits.max_image_fps) || 5;
  try {
    await camera.start({ fps: Math.min(2, limit * 0.8), maxSide: 640, quality: 0.7, video: els.preview });
    els.faceReading.textContent = "Looking for a face…";
    els.faceReading.dataset.detected = "";
    els.faceReading.dataset.label = "";
  } catch (error) {
    setHint(error.message, "error");
  } finally {
    els.camera.disabled = false;
    setCameraIndicator();
  }
}

camera.addEventListener("frame", (event) => conn.sendImage(event.detail.base64));
camera.addEventListener("start", setCameraIndicator);
camera.addEventListener("stop", setCameraIndicator);
els.camera.addEventListener("click", () => toggleCamera());

// --- speak replies -----------------------------------------------------------------------------

/** Change capabilities.audio by resuming the session on a new socket, when nothing runs. */
function maybeApplyCapabilities() {
  const want = els.speak.checked;
  if (conn.capabilities.audio === want) return;
  if (pendingTurns() || ui.micMode !== null || conn.state !== "open") return;
  conn.capabilities.audio = want;
  conn.close();
  conn.connect().catch(() => {});
}

els.speak.addEventListener("change", () => {
  sessionStorage.setItem(SPEAK_KEY, els.speak.checked ? "true" : "false");
  if (!els.speak.checked) bargeIn();
  maybeApplyCapabilities();
});

// --- stop, retry, forget, crisis ---------------------------------------------------------------

els.stop.addEventListener("click", () => stopEverything());

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && (player.playing || runningTurn())) stopEverything();
});

els.retry.addEventListener("click", () => {
  els.stateText.textContent = STATE_TEXT.connecting;
  conn.retry().catch(() => {});
});

els.forget.addEventListener("click", async () => {
  bargeIn();
  if (ui.micMode === "open") await toggleOpenMic();
  els.forget.disabled = true;
  await conn.end({ forget: true });
  sessionStorage.removeItem(STORAGE_KEY);
  els.log.replaceChildren();
  ui.turns = [];
  ui.byTurnId.clear();
  ui.interrupted.clear();
  ui.renderedSession = null;
  els.emptyHint.hidden = false;
  els.crisis.hidden = true;
  setHint("The conversation was deleted. You're starting fresh.", "info");
  conn.capabilities.audio = els.speak.checked;
  conn.connect().catch(() => {});
});

els.crisisClose.addEventListener("click", () => {
  els.crisis.hidden = true;
});

window.addEventListener("pagehide", () => {
  camera.stop();
  mic.stop();
  conn.close();
});

// --- start -------------------------------------------------------------------------------------

updateState();
setMicIndicator();
setCameraIndicator();
errorTextLoaded.finally(() =>
  conn.connect().catch(() => {
    ui.connectionLost = true;
    updateState();
  }),
);

// for tests and debugging: state only, never content
window.attune = {
  get state() {
    return document.body.dataset.state;
  },
  get connection() {
    return conn.state;
  },
  get playedSeconds() {
    return player.playedSeconds();
  },
  get playing() {
    return player.playing;
  },
  get sessionId() {
    return conn.sessionId;
  },
};
