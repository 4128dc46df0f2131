// AudioWorkletProcessor "pcm16-capture": the microphone at the context's rate (44.1 or 48 kHz,
// any rate works) -> 16 kHz mono little-endian Int16, posted in 100 ms chunks.
//
// Resampling: a windowed-sinc low-pass FIR (Blackman window, cut-off just under 8 kHz, the new
// Nyquist frequency) removes what would alias, then linear interpolation picks the samples at
// the 16 kHz instants. Each message posted: {pcm: ArrayBuffer (3200 bytes), rms: number}; a
// "flush" message from the node posts the partial chunk at once ({pcm, rms, final: true}).

const TARGET_RATE = 16000;
const CHUNK_SAMPLES = 1600; // 100 ms at 16 kHz
const CUTOFF_HZ = 7200;

/** Low-pass FIR taps (odd length, unit DC gain) for `rate`: windowed sinc, Blackman window. */
function lowPass(rate, taps) {
  const fc = CUTOFF_HZ / rate; // cycles per sample
  const h = new Float32Array(taps);
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let n = 0; n < taps; n++) {
    const x = n - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const w =
      0.42 -
      0.5 * Math.cos((2 * Math.PI * n) / (taps - 1)) +
      0.08 * Math.cos((4 * Math.PI * n) / (taps - 1));
    h[n] = sinc * w;
    sum += h[n];
  }
  for (let n = 0; n < taps; n++) h[n] /= sum;
  return h;
}

class Pcm16Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    // sampleRate is the AudioWorkletGlobalScope's: the context's rate
    this.ratio = sampleRate / TARGET_RATE;
    if (this.ratio > 1) {
      // ~2 kHz transition band at 48 kHz with 127 taps (the Blackman window: ~5.5 / taps)
      this.taps = 127;
      this.h = lowPass(sampleRate, this.taps);
      // doubled ring buffer: the last `taps` samples are always contiguous
      this.ring = new Float32Array(this.taps * 2);
      this.write = 0;
    } else {
      this.taps = 0;
    }
    this.t = 0; // position of the next output sample, relative to the current input sample
    this.prev = 0; // the previous filtered input sample
    this.out = new Int16Array(CHUNK_SAMPLES);
    this.count = 0;
    this.sumSquares = 0;
    this.running = true;
    this.port.onmessage = (event) => {
      if (event.data === "flush") this.post(true);
      else if (event.data === "stop") this.running = false;
    };
  }

  /** One low-passed sample: push x, return the filter's output. */
  filter(x) {
    const taps = this.taps;
    if (taps === 0) return x;
    const ring = this.ring;
    ring[this.write] = x;
    ring[this.write + taps] = x;
    this.write += 1;
    if (this.write === taps) this.write = 0;
    // the window ring[write .. write + taps) holds the samples oldest first
    const h = this.h;
    const start = this.write;
    let acc = 0;
    for (let k = 0; k < taps; k++) acc += h[k] * ring[start + k];
    return acc;
  }

  emit(v) {
    const s = v > 1 ? 1 : v < -1 ? -1 : v;
    this.out[this.count] = s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);
    this.sumSquares += s * s;
    this.count += 1;
    if (this.count === CHUNK_SAMPLES) this.post(false);
  }

  post(final) {
    if (this.count === 0) {
      if (final) this.port.postMessage({ pcm: new ArrayBuffer(0), rms: 0, final: true });
      return;
    }
    const pcm = this.out.slice(0, this.count).buffer;
    const rms = Math.sqrt(this.sumSquares / this.count);
    this.count = 0;
    this.sumSquares = 0;
    this.port.postMessage({ pcm, rms, final }, [pcm]);
  }

  process(inputs) {
    if (!this.running) return false;
    const input = inputs[0];
    if (!input || input.length === 0 || !input[0]) return true;
    const channels = input.length;
    const frames = input[0].length;
    const ratio = this.ratio;
    for (let i = 0; i < frames; i++) {
      let x = input[0][i];
      if (channels > 1) {
        for (let c = 1; c < channels; c++) x += input[c][i];
        x /= channels;
      }
      const y = this.filter(x);
      // output instants in (previous sample, this sample]: interpolate between the two
      while (this.t <= 0) {
        this.emit(this.prev + (y - this.prev) * (1 + this.t));
        this.t += ratio;
      }
      this.t -= 1;
      this.prev = y;
    }
    return true;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
