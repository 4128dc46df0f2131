// Microphone capture (16 kHz PCM16 in 100 ms chunks) and gap-free playback of the reply audio.
//
// Privacy: nothing here records or logs audio; chunks go to the callback and are dropped.

const WORKLET_URL = new URL("./pcm-worklet.js", import.meta.url);

/** A readable message for a getUserMedia failure. */
export function mediaErrorMessage(error, device = "microphone") {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return `Permission to use the ${device} was denied. Allow it in the browser's site settings and try again.`;
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return `No ${device} was found. Connect one and try again.`;
  }
  if (name === "NotReadableError" || name === "AbortError") {
    return `The ${device} could not be started (another application may be using it).`;
  }
  return `The ${device} could not be started.`;
}

/**
 * The microphone as 16 kHz mono PCM16: start(onChunk) calls onChunk(ArrayBuffer) every 100 ms.
 * Events: "level" ({rms}) per chunk, "start", "stop".
 */
export class MicCapture extends EventTarget {
  constructor() {
    super();
    this._ctx = null;
    this._stream = null;
    this._source = null;
    this._node = null;
    this._onChunk = null;
    this._starting = null;
    this._flushWaiter = null;
    /** What the browser applies to the microphone, known once it is started. */
    this.processing = { echoCancellation: null, noiseSuppression: null, autoGainControl: null };
  }

  /** Whether the microphone is open. */
  get active() {
    return this._stream !== null;
  }

  /** The AudioContext's sample rate (before resampling), or null. */
  get contextRate() {
    return this._ctx ? this._ctx.sampleRate : null;
  }

  /**
   * Open the microphone. Rejects with an Error whose message says what went wrong (permission
   * denied, no device, insecure page).
   */
  async start(onChunk) {
    this._onChunk = onChunk;
    if (this._stream) return;
    if (this._starting) return this._starting;
    this._starting = this._start().finally(() => {
      this._starting = null;
    });
    return this._starting;
  }

  async _start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error(
        "This browser cannot use a microphone on this page (it needs https or localhost)."
      );
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          echoCancellation: true,
          noiseSuppression: true,
          autoGainControl: true,
          channelCount: 1,
        },
      });
    } catch (error) {
      throw new Error(mediaErrorMessage(error, "microphone"));
    }
    // what the browser actually applies (a constraint it cannot honour is silently dropped)
    const track = stream.getAudioTracks()[0];
    const applied = track && track.getSettings ? track.getSettings() : {};
    this.processing = {
      echoCancellation: applied.echoCancellation === true,
      noiseSuppression: applied.noiseSuppression === true,
      autoGainControl: applied.autoGainControl === true,
    };
    try {
      if (!this._ctx) {
        this._ctx = new AudioContext({ latencyHint: "interactive" });
        await this._ctx.audioWorklet.addModule(WORKLET_URL);
      }
      if (this._ctx.state !== "running") await this._ctx.resume();
      const source = this._ctx.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(this._ctx, "pcm16-capture", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: 1,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
      });
      node.port.onmessage = (event) => this._onWorklet(event.data, node);
      source.connect(node);
      // the node writes nothing: connecting it keeps it pulled by the graph, silently
      node.connect(this._ctx.destination);
      this._stream = stream;
      this._source = source;
      this._node = node;
    } catch (error) {
      for (const track of stream.getTracks()) track.stop();
      throw new Error("The microphone could not be started: " + (error.message || error.name));
    }
    this.dispatchEvent(new CustomEvent("start"));
  }

  _onWorklet(data, node) {
    if (!data || !data.pcm) return;
    if (data.pcm.byteLength > 0 && this._onChunk) {
      try {
        this._onChunk(data.pcm);
      } catch {
        // the caller's problem; capture goes on
      }
    }
    if (data.pcm.byteLength > 0) {
      this.dispatchEvent(new CustomEvent("level", { detail: { rms: data.rms } }));
    }
    if (data.final && this._flushWaiter && this._flushWaiter.node === node) {
      const waiter = this._flushWaiter;
      this._flushWaiter = null;
      waiter.resolve();
    }
  }

  /**
   * Close the microphone: the tracks stop at once (the browser's indicator goes off), then the
   * last partial chunk is delivered to onChunk. The promise resolves after that chunk.
   */
  async stop() {
    if (this._starting) {
      try {
        await this._starting;
      } catch {
        return;
      }
    }
    const stream = this._stream;
    if (!stream) return;
    this._stream = null;
    for (const track of stream.getTracks()) track.stop();
    const node = this._node;
    const source = this._source;
    this._node = null;
    this._source = null;
    if (node) {
      const flushed = new Promise((resolve) => {
        this._flushWaiter = { node, resolve };
      });
      node.port.postMessage("flush");
      await Promise.race([flushed, new Promise((r) => setTimeout(r, 300))]);
      this._flushWaiter = null;
      node.port.postMessage("stop");
      node.port.onmessage = null;
      try {
        source.disconnect();
        node.disconnect();
      } catch {
        // already disconnected
      }
    }
    if (this._ctx && this._ctx.state === "running" && !this._stream) {
      try {
        await this._ctx.suspend();
      } catch {
        // closed
      }
    }
    this.dispatchEvent(new CustomEvent("stop"));
  }
}

/**
 * Plays the reply audio: PCM16 mono chunks scheduled back to back on one AudioContext.
 * Events: "start" ({turnId}) when audio starts after silence, "end" ({turnId}) when the queue
 * drained naturally, "flush" ({turnId, played}) when flush() stopped it.
 */
export class Player extends EventTarget {
  constructor({ volume = 1 } = {}) {
    super();
    this._ctx = null;
    this._gain = null;
    this._volume = volume;
    this._queue = []; // scheduled chunks not yet ended: {src, start, duration, offset, turnId}
    this._turnChunks = []; // every chunk of the current turn (played accounting)
    this._turnId = null;
    this._endTime = 0;
    this._nextOffset = 0;
  }

  _context() {
    if (!this._ctx) {
      this._ctx = new AudioContext({ latencyHint: "interactive" });
      this._gain = this._ctx.createGain();
      this._gain.gain.value = this._volume;
      this._gain.connect(this._ctx.destination);
    }
    return this._ctx;
  }

  /** Unlock the AudioContext (call from a user gesture; harmless otherwise). */
  resume() {
    const ctx = this._context();
    if (ctx.state === "suspended") {
      return ctx.resume().catch(() => {});
    }
    return Promise.resolve();
  }

  /** Whether reply audio is playing or scheduled. */
  get playing() {
    return this._queue.length > 0;
  }

  /** The turn whose audio is playing (or played last). */
  get turnId() {
    return this._turnId;
  }

  /** Playback volume, 0..1. */
  get volume() {
    return this._volume;
  }

  set volume(value) {
    this._volume = Math.max(0, Math.min(1, Number(value) || 0));
    if (this._gain) this._gain.gain.value = this._volume;
  }

  /**
   * Schedule one chunk: PCM16 mono little-endian at sampleRate. `offset` is the chunk's place
   * in the reply (seconds, from audio.chunk); a chunk of a new turnId starts a new turn.
   * Returns false for a format it cannot play.
   */
  enqueue(arrayBuffer, { sampleRate = 24000, format = "pcm16", offset, duration, turnId } = {}) {
    if (format !== "pcm16" || !arrayBuffer || arrayBuffer.byteLength < 2) return false;
    const ctx = this._context();
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    const samples = new Int16Array(arrayBuffer, 0, Math.floor(arrayBuffer.byteLength / 2));
    const floats = new Float32Array(samples.length);
    for (let i = 0; i < samples.length; i++) floats[i] = samples[i] / 32768;
    const buffer = ctx.createBuffer(1, floats.length, sampleRate);
    buffer.copyToChannel(floats, 0);
    const length = floats.length / sampleRate;
    const id = turnId === undefined ? this._turnId : turnId;
    if (id !== this._turnId) {
      this._turnId = id;
      this._turnChunks = [];
      this._nextOffset = 0;
    }
    const wasIdle = this._queue.length === 0;
    const start = Math.max(ctx.currentTime + 0.01, this._endTime);
    const src = ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(this._gain);
    const chunk = {
      src,
      start,
      duration: length,
      offset: typeof offset === "number" ? offset : this._nextOffset,
      turnId: id,
    };
    this._nextOffset = chunk.offset + (typeof duration === "number" ? duration : length);
    src.onended = () => this._onEnded(chunk);
    src.start(start);
    this._endTime = start + length;
    this._queue.push(chunk);
    this._turnChunks.push(chunk);
    if (wasIdle) this.dispatchEvent(new CustomEvent("start", { detail: { turnId: id } }));
    return true;
  }

  _onEnded(chunk) {
    const i = this._queue.indexOf(chunk);
    if (i < 0) return;
    this._queue.splice(i, 1);
    if (this._queue.length === 0) {
      this._endTime = 0;
      this.dispatchEvent(new CustomEvent("end", { detail: { turnId: chunk.turnId } }));
    }
  }

  /** Seconds of the current turn's audio actually played so far. */
  playedSeconds() {
    if (!this._ctx) return 0;
    const now = this._ctx.currentTime;
    let played = 0;
    for (const c of this._turnChunks) {
      played += Math.min(Math.max(now - c.start, 0), c.duration);
    }
    return played;
  }

  /**
   * Where playback is in the current reply, in seconds on the reply's own timeline (the
   * chunks' offsets), from the AudioContext clock (less its output latency). Between chunks
   * it holds at the end of the last one heard; -1 when nothing plays.
   */
  replyTime() {
    if (!this._ctx || this._queue.length === 0) return -1;
    const latency = Math.min(Math.max(this._ctx.outputLatency || 0, 0), 0.5);
    const now = this._ctx.currentTime - latency;
    let held = null;
    for (const c of this._turnChunks) {
      if (now >= c.start && now < c.start + c.duration) return c.offset + (now - c.start);
      if (now >= c.start + c.duration) held = c.offset + c.duration;
    }
    if (held !== null) return held;
    return this._queue[0].turnId === this._turnId ? this._queue[0].offset : -1;
  }

  /**
   * Stop everything at once. Returns the seconds of the current turn's audio actually played.
   */
  flush() {
    const played = this.playedSeconds();
    const now = this._ctx ? this._ctx.currentTime : 0;
    const hadAudio = this._queue.length > 0;
    for (const c of this._turnChunks) {
      // freeze the accounting at what was heard
      c.duration = Math.min(Math.max(now - c.start, 0), c.duration);
    }
    for (const c of this._queue) {
      c.src.onended = null;
      try {
        c.src.stop();
      } catch {
        // not started yet or already stopped
      }
      c.src.disconnect();
    }
    this._queue = [];
    this._endTime = 0;
    if (hadAudio) {
      this.dispatchEvent(new CustomEvent("flush", { detail: { turnId: this._turnId, played } }));
    }
    return played;
  }
}
