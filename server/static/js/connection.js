// The Attune websocket protocol (docs/protocol.md) for the browser pages.
//
// AttuneConnection opens /ws, starts (or resumes) a session, dispatches every server message
// as a "message" event (audio.chunk with its binary frame attached as msg.audio), and
// reconnects with backoff when the socket drops, resuming the same session.
//
// Privacy: this module never logs message content.

const PROTOCOL_VERSION = 1;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
/** Errors on session.start after which a fresh session is started instead of the old one. */
const RESUME_REFUSED = new Set(["session_forbidden", "bad_session_id"]);

let refCounter = 0;

/** A client reference for a turn: letters, digits and "-" (the protocol allows up to 64). */
function newRef() {
  refCounter += 1;
  const random = Math.floor(Math.random() * 0x100000000).toString(36);
  return `c${Date.now().toString(36)}-${refCounter.toString(36)}-${random}`;
}

/** The default websocket URL: this page's host, path /ws. */
function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws`;
}

/** The page URL's ?token=, or null. */
function pageToken() {
  try {
    return new URLSearchParams(location.search).get("token");
  } catch {
    return null;
  }
}

/**
 * One connection to an Attune server, with one session at a time.
 *
 * Events: "state" ({state}), "message" (the server message), "error" (an error message),
 * "session" (the session.started message, each time a session starts or resumes).
 */
export class AttuneConnection extends EventTarget {
  constructor({
    url,
    token,
    capabilities = { text: true, audio: false, avatar: false, video: false },
    audioOut = "pcm16",
    sessionId = null,
    reconnect = true,
  } = {}) {
    super();
    this.url = url || defaultUrl();
    this.token = token === undefined ? pageToken() : token;
    this.capabilities = { ...capabilities };
    this.audioOut = audioOut;
    this.reconnect = reconnect;
    this._sessionId = sessionId || null;
    this._limits = null;
    this._session = null; // the last session.started message
    this._state = "closed";
    this._ws = null;
    this._wanted = false; // true between connect() and close()/end()
    this._started = false; // the current socket has a session
    this._attempt = 0;
    this._retryTimer = null;
    this._pendingAudio = null; // an audio.chunk header waiting for its binary frame
    this._audioOpen = false;
    this._connectWaiters = [];
    this._endWaiters = [];
  }

  /** "connecting" | "open" | "reconnecting" | "closed". "open" means a session is running. */
  get state() {
    return this._state;
  }

  /** The session id (null before the first session.started). */
  get sessionId() {
    return this._sessionId;
  }

  /** The server's limits from session.started (null before). */
  get limits() {
    return this._limits;
  }

  /** The last session.started message (null before). */
  get session() {
    return this._session;
  }

  /** Whether an audio stream (user.audio.start) is open on this socket. */
  get audioOpen() {
    return this._audioOpen;
  }

  /** Whether messages can be sent now (a session is running). */
  get isOpen() {
    return this._state === "open";
  }

  /**
   * Open the socket and start the session (resuming sessionId when set). Resolves with the
   * session.started message; while the server cannot be reached it keeps retrying (state
   * "reconnecting") when reconnect is true, and rejects when it is false.
   */
  connect() {
    if (this._state === "open" && this._session) {
      return Promise.resolve(this._session);
    }
    const promise = new Promise((resolve, reject) => {
      this._connectWaiters.push({ resolve, reject });
    });
    if (!this._wanted || this._state === "closed") {
      this._wanted = true;
      this._attempt = 0;
      this._open("connecting");
    }
    return promise;
  }

  /** Send a typed turn. Returns its ref, or false when not open. */
  sendText(text) {
    const ref = newRef();
    return this._send({ type: "user.text", v: PROTOCOL_VERSION, text: String(text), ref })
      ? ref
      : false;
  }

  /** Open an audio stream ("push": one turn until endAudio(); "open": server VAD). */
  startAudio({ mode = "push", bargeIn = false } = {}) {
    const ref = newRef();
    const ok = this._send({
      type: "user.audio.start",
      v: PROTOCOL_VERSION,
      mode,
      barge_in: Boolean(bargeIn),
      ref,
    });
    if (!ok) return false;
    this._audioOpen = true;
    return ref;
  }

  /** Send one binary PCM16 frame of the open audio stream. */
  sendAudio(arrayBuffer) {
    if (!this._audioOpen || !this._socketReady()) return false;
    try {
      this._ws.send(arrayBuffer);
      return true;
    } catch {
      return false;
    }
  }

  /** Close the audio stream (push: the turn is complete). */
  endAudio() {
    if (!this._audioOpen) return false;
    this._audioOpen = false;
    return this._send({ type: "user.audio.end", v: PROTOCOL_VERSION });
  }

  /** Send a camera frame (base64 JPEG or PNG, without a data: prefix). */
  sendImage(base64Jpeg) {
    return this._send({ type: "user.image", v: PROTOCOL_VERSION, data: base64Jpeg });
  }

  /** Barge-in: stop the turn in flight, or cut the reply still playing. */
  interrupt({ turnId = null, playedSeconds = null } = {}) {
    const msg = { type: "interrupt", v: PROTOCOL_VERSION };
    if (turnId) msg.turn_id = String(turnId);
    if (typeof playedSeconds === "number" && Number.isFinite(playedSeconds)) {
      msg.played_seconds = Math.max(0, playedSeconds);
    }
    return this._send(msg);
  }

  /**
   * End the session (forget: delete its conversation on the server). Resolves with the
   * session.ended message, or null when the socket closed without one. No reconnection after.
   * After forget the session id is cleared, so the next connect() starts a new session.
   */
  end({ forget = false } = {}) {
    this._wanted = false;
    this._clearRetry();
    const done = new Promise((resolve) => this._endWaiters.push(resolve));
    const sent = this._send({ type: "session.end", v: PROTOCOL_VERSION, forget: Boolean(forget) });
    if (forget) this._sessionId = null;
    if (!sent) {
      this._shutdown();
    } else {
      // a server that never answers must not hang the caller
      const ws = this._ws;
      setTimeout(() => {
        if (this._ws === ws && ws !== null) this._shutdown();
      }, 5000);
    }
    return done;
  }

  /**
   * Reconnect now: skips the backoff wait while reconnecting, or connects again when closed.
   * Resolves like connect().
   */
  retry() {
    if (this._state === "reconnecting" && this._retryTimer !== null) {
      const promise = new Promise((resolve, reject) => {
        this._connectWaiters.push({ resolve, reject });
      });
      this._attempt = 0;
      this._open("reconnecting");
      return promise;
    }
    return this.connect();
  }

  /** Close the socket without ending the session (it can be resumed later). */
  close() {
    this._wanted = false;
    this._shutdown();
  }

  // --- internals ------------------------------------------------------------------------------

  _socketReady() {
    return this._ws !== null && this._ws.readyState === WebSocket.OPEN;
  }

  _send(msg) {
    if (this._state !== "open" || !this._socketReady()) return false;
    try {
      this._ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  _setState(state) {
    if (state === this._state) return;
    this._state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
  }

  _clearRetry() {
    if (this._retryTimer !== null) {
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
    }
  }

  _open(state) {
    this._clearRetry();
    this._setState(state);
    let url = this.url;
    if (this.token) {
      url += (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(this.token);
    }
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this._onSocketClosed(null);
      return;
    }
    ws.binaryType = "arraybuffer";
    this._ws = ws;
    this._started = false;
    this._pendingAudio = null;
    this._audioOpen = false;
    ws.addEventListener("open", () => {
      if (this._ws === ws) this._sendStart(this._sessionId);
    });
    ws.addEventListener("message", (event) => {
      if (this._ws === ws) this._onFrame(event.data);
    });
    ws.addEventListener("close", () => {
      if (this._ws === ws) this._onSocketClosed(ws);
    });
    // "error" is always followed by "close"; nothing to do (and nothing to log)
    ws.addEventListener("error", () => {});
  }

  _sendStart(sessionId) {
    const msg = {
      type: "session.start",
      v: PROTOCOL_VERSION,
      capabilities: { ...this.capabilities },
      audio_in: { encoding: "pcm16", sample_rate: 16000, channels: 1 },
      audio_out: this.audioOut,
    };
    if (sessionId) msg.session_id = sessionId;
    this._ws.send(JSON.stringify(msg));
  }

  _onFrame(data) {
    if (typeof data !== "string") {
      const header = this._pendingAudio;
      this._pendingAudio = null;
      if (header) {
        header.audio = data;
        this._dispatchMessage(header);
      }
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== "object") return;
    if (this._pendingAudio) {
      // a header without its binary frame: deliver it without audio rather than lose it
      const header = this._pendingAudio;
      this._pendingAudio = null;
      header.audio = null;
      this._dispatchMessage(header);
    }
    if (msg.type === "audio.chunk") {
      this._pendingAudio = msg;
      return;
    }
    if (!this._started) {
      if (msg.type === "session.started") {
        this._onSessionStarted(msg);
        return;
      }
      if (msg.type === "error" && RESUME_REFUSED.has(msg.code) && this._sessionId) {
        // the old session cannot be resumed (another token, or gone): start a new one
        this._sessionId = null;
        this.dispatchEvent(new CustomEvent("message", { detail: msg }));
        this._sendStart(null);
        return;
      }
    }
    if (msg.type === "error" && msg.code === "session_forgotten") {
      // forgotten from another window: the reconnect starts a new, blank session
      this._sessionId = null;
    }
    if (msg.type === "session.ended") {
      this._dispatchMessage(msg);
      this._resolveEnd(msg);
      this._shutdown();
      return;
    }
    this._dispatchMessage(msg);
  }

  _dispatchMessage(msg) {
    this.dispatchEvent(new CustomEvent("message", { detail: msg }));
    if (msg.type === "error") {
      this.dispatchEvent(new CustomEvent("error", { detail: msg }));
    }
  }

  _onSessionStarted(msg) {
    this._started = true;
    this._attempt = 0;
    this._sessionId = msg.session_id;
    this._limits = msg.limits || null;
    this._session = msg;
    this._setState("open");
    this.dispatchEvent(new CustomEvent("message", { detail: msg }));
    this.dispatchEvent(new CustomEvent("session", { detail: msg }));
    const waiters = this._connectWaiters;
    this._connectWaiters = [];
    for (const w of waiters) w.resolve(msg);
  }

  _onSocketClosed(ws) {
    if (ws && this._ws === ws) this._ws = null;
    this._started = false;
    this._audioOpen = false;
    this._pendingAudio = null;
    if (this._wanted && this.reconnect) {
      const delay = BACKOFF_MS[Math.min(this._attempt, BACKOFF_MS.length - 1)];
      this._attempt += 1;
      this._setState("reconnecting");
      this._clearRetry();
      this._retryTimer = setTimeout(() => {
        this._retryTimer = null;
        if (this._wanted) this._open("reconnecting");
      }, delay);
      return;
    }
    this._wanted = false;
    this._setState("closed");
    this._resolveEnd(null);
    const waiters = this._connectWaiters;
    this._connectWaiters = [];
    for (const w of waiters) w.reject(new Error("could not connect to the Attune server"));
  }

  _resolveEnd(msg) {
    const waiters = this._endWaiters;
    this._endWaiters = [];
    for (const resolve of waiters) resolve(msg);
  }

  _shutdown() {
    this._clearRetry();
    const ws = this._ws;
    this._ws = null;
    this._started = false;
    this._audioOpen = false;
    this._pendingAudio = null;
    if (ws && ws.readyState <= WebSocket.OPEN) {
      try {
        ws.close(1000, "client closed");
      } catch {
        // already closing
      }
    }
    this._setState("closed");
    this._resolveEnd(null);
    const waiters = this._connectWaiters;
    this._connectWaiters = [];
    for (const w of waiters) w.reject(new Error("connection closed"));
  }
}
