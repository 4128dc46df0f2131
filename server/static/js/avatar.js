// The talking-head avatar drawn in the browser from the avatar.cues stream.
//
// Two styles, the same as the server's renderers (modalities/avatar/):
// - "portrait": the rig from GET /avatar/rig.json (modalities/avatar/rig_export.py documents
//   the format and the formula): control points = rest + sum(cue * field), the face points
//   turned in 3-D with the mesh depth, the portrait warped along the triangle mesh in WebGL,
//   then the open mouth painted like portrait._fill_mouth on the visible 2-D canvas.
// - "cartoon": a Canvas 2D port of cartoon.py (same colours, proportions, parallax and roll).
//
// CueTimeline holds the cue chunks of the reply being played and answers the frame at a reply
// time. Nothing here logs anything.

/** The 13 cue columns of a frame (modalities/avatar/cues.py COLUMNS). */
export const COLUMNS = [
  "mouth_open", "mouth_width", "mouth_round", "smile", "brow_raise", "brow_inner",
  "eye_open", "blink", "head_yaw", "head_pitch", "head_roll", "gaze_x", "gaze_y",
];

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

/**
 * The cue chunks of one reply: add() each avatar.cues timeline as it arrives, at(seconds) for
 * the frame that covers a reply time (frame floor(seconds * fps), in the chunk owning it).
 */
export class CueTimeline {
  constructor() {
    this.chunks = [];
    this.fps = 0;
  }

  /** Add one AvatarCues JSON object (a chunk owns frames round(offset * fps) .. + frames). */
  add(cues) {
    if (!cues || !(cues.frames > 0) || !(cues.fps > 0)) return;
    const start = Math.round(cues.offset * cues.fps);
    const chunk = { start, end: start + cues.frames, fps: cues.fps, cues };
    this.fps = cues.fps;
    this.chunks = this.chunks.filter((c) => c.end <= start || c.start >= chunk.end);
    this.chunks.push(chunk);
    this.chunks.sort((a, b) => a.start - b.start);
  }

  /** Forget every chunk (a new reply, an interruption). */
  clear() {
    this.chunks = [];
  }

  /** Whether no chunk was added since the last clear(). */
  get empty() {
    return this.chunks.length === 0;
  }

  /** The reply time (seconds) where the last chunk ends, 0 when empty. */
  get end() {
    const last = this.chunks[this.chunks.length - 1];
    return last ? last.end / last.fps : 0;
  }

  /** The cue object of the frame at reply time `seconds`, or null when no chunk owns it. */
  at(seconds) {
    if (!(seconds >= 0)) return null;
    for (const c of this.chunks) {
      const index = Math.floor(seconds * c.fps + 1e-9);
      if (index >= c.start && index < c.end) {
        const i = index - c.start;
        const cue = {};
        for (const name of COLUMNS) {
          const column = c.cues[name];
          cue[name] = column && typeof column[i] === "number" ? column[i] : 0;
        }
        return cue;
      }
    }
    return null;
  }
}

/** A cue frame `a` moved toward `b` by fraction `k` (0: a, 1: b). */
export function blendCue(a, b, k) {
  const out = {};
  for (const name of COLUMNS) out[name] = a[name] + (b[name] - a[name]) * k;
  return out;
}

/** A small seeded random generator (mulberry32), so idle life is the same on every load. */
function seeded(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Idle life (as cues.py does for a reply): blinks every 2-6 s, a slow drift of the head made of
 * three sinusoids, the gaze on the viewer and the neutral expression. `reducedMotion` keeps
 * the blinks and drops the drift.
 */
class IdleLife {
  constructor({ seed = 7, smile = 0.15, reducedMotion = false } = {}) {
    const random = seeded(seed);
    this.smile = smile;
    this.reducedMotion = reducedMotion;
    this._random = random;
    this._blinks = [];
    this._next = 0.4 + random() * 2.1;
    this._drift = [2.0, 1.2, 1.0].map((amplitude) => ({
      amplitude,
      freqs: [0, 1, 2].map(() => 0.07 + random() * 0.33),
      phases: [0, 1, 2].map(() => random() * 2 * Math.PI),
    }));
  }

  _blink(t) {
    while (this._next <= t + 1) {
      this._blinks.push(this._next);
      // exponential with mean 1.5 s, capped so the gap stays within 2-6 s
      this._next += 2 + Math.min(4, -1.5 * Math.log(1 - this._random()));
    }
    while (this._blinks.length > 2 && this._blinks[1] < t - 1) this._blinks.shift();
    let out = 0;
    for (const s of this._blinks) {
      const d = t - s;
      if (d >= 0 && d < 0.21) {
        out = Math.max(out, Math.min(clamp(d / 0.06, 0, 1), clamp(1 - (d - 0.09) / 0.12, 0, 1)));
      }
    }
    return out;
  }

  _wander(k, t) {
    if (this.reducedMotion) return 0;
    const d = this._drift[k];
    const weights = [0.6, 0.3, 0.2];
    let sum = 0;
    for (let i = 0; i < 3; i++) sum += weights[i] * Math.sin(2 * Math.PI * d.freqs[i] * t + d.phases[i]);
    return d.amplitude * sum;
  }

  cue(t) {
    return {
      mouth_open: 0, mouth_width: 0, mouth_round: 0,
      smile: this.smile, brow_raise: 0, brow_inner: 0, eye_open: 0,
      blink: this._blink(t),
      head_yaw: this._wander(0, t), head_pitch: this._wander(1, t), head_roll: this._wander(2, t),
      gaze_x: 0, gaze_y: 0,
    };
  }
}

function rgb(c) {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function sameCue(a, b) {
  if (!a || !b) return false;
  for (const name of COLUMNS) {
    if (Math.abs(a[name] - b[name]) > 5e-4) return false;
  }
  return true;
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the portrait image could not be decoded"));
    image.src = src;
  });
}

// --- portrait ---------------------------------------------------------------------------------

const VERTEX_SHADER = `
attribute vec2 a_pos;
attribute vec2 a_uv;
uniform float u_size;
varying vec2 v_uv;
void main() {
  vec2 p = (a_pos + 0.5) / u_size;
  gl_Position = vec4(p.x * 2.0 - 1.0, 1.0 - p.y * 2.0, 0.0, 1.0);
  v_uv = (a_uv + 0.5) / u_size;
}`;

const FRAGMENT_SHADER = `
precision mediump float;
uniform sampler2D u_image;
varying vec2 v_uv;
void main() {
  gl_FragColor = texture2D(u_image, v_uv);
}`;

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    throw new Error("the avatar shader did not compile");
  }
  return shader;
}

class PortraitAvatar {
  constructor(canvas, rig, image) {
    this.style = "portrait";
    this.rig = rig;
    const size = rig.size;
    this.size = size;
    canvas.width = size;
    canvas.height = size;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.n = rig.n_points;
    this.nFace = rig.n_face;
    this.rest = Float32Array.from(rig.points);
    this.fields = rig.fields.map((f) => Float32Array.from(f));
    this.fieldCues = rig.field_cues;
    this.depth = Float32Array.from(rig.depth);
    this.points = new Float32Array(2 * this.n);

    const glCanvas = document.createElement("canvas");
    glCanvas.width = size;
    glCanvas.height = size;
    const gl = glCanvas.getContext("webgl", {
      alpha: false,
      antialias: false,
      depth: false,
      stencil: false,
      premultipliedAlpha: false,
      preserveDrawingBuffer: true,
    });
    if (!gl) throw new Error("WebGL is not available");
    this.gl = gl;
    this.glCanvas = glCanvas;
    const program = gl.createProgram();
    gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX_SHADER));
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT_SHADER));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
      throw new Error("the avatar shaders did not link");
    }
    gl.useProgram(program);
    this.aPos = gl.getAttribLocation(program, "a_pos");
    this.aUv = gl.getAttribLocation(program, "a_uv");
    gl.uniform1f(gl.getUniformLocation(program, "u_size"), size);
    gl.uniform1i(gl.getUniformLocation(program, "u_image"), 0);

    const texture = gl.createTexture();
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGB, gl.RGB, gl.UNSIGNED_BYTE, image);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);

    // the whole portrait (two triangles), unwarped: what lies outside the ring
    const e = size - 0.5;
    const quad = new Float32Array([-0.5, -0.5, e, -0.5, -0.5, e, e, e]);
    this.quadBuffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.quadBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, quad, gl.STATIC_DRAW);
    this.restBuffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.restBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, this.rest, gl.STATIC_DRAW);
    this.pointBuffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.pointBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, this.points.byteLength, gl.DYNAMIC_DRAW);
    this.indexBuffer = gl.createBuffer();
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.indexBuffer);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, Uint16Array.from(rig.triangles), gl.STATIC_DRAW);
    this.indexCount = rig.triangles.length;
    gl.enableVertexAttribArray(this.aPos);
    gl.enableVertexAttribArray(this.aUv);
    gl.viewport(0, 0, size, size);

    const mouth = rig.mouth;
    this.contour = [...mouth.upper_inner, ...[...mouth.lower_inner].reverse()];
    this.layer = document.createElement("canvas");
    this.layer.width = size;
    this.layer.height = size;
    this.layerCtx = this.layer.getContext("2d");
  }

  /** [x0, y0, x1, y1]: where the mouth moves, in canvas pixels (for tests and tools). */
  mouthBox() {
    const p = this.rest;
    const h = this.rig.height;
    const cx = (p[26] + p[28]) / 2, cy = (p[27] + p[29]) / 2;
    return [cx - 0.2 * h, cy - 0.08 * h, cx + 0.2 * h, cy + 0.14 * h].map(Math.round);
  }

  /** The displaced control points of a cue frame (rig_export.py's formula). */
  controlPoints(f) {
    const closure = clamp(
      f.blink + 0.35 * Math.max(0, -f.eye_open) - 0.2 * Math.max(0, f.eye_open), -0.25, 0.95);
    const weights = { ...f, closure };
    const p = this.points;
    p.set(this.rest);
    for (let k = 0; k < this.fields.length; k++) {
      const w = weights[this.fieldCues[k]] || 0;
      if (w === 0) continue;
      const field = this.fields[k];
      for (let i = 0; i < p.length; i++) p[i] += w * field[i];
    }
    const [cx, cy] = this.rig.centre;
    const [[ax, ay], [bx, by]] = this.rig.axes;
    const rad = Math.PI / 180;
    const cyaw = Math.cos(f.head_yaw * rad), syaw = Math.sin(f.head_yaw * rad);
    const cpit = Math.cos(f.head_pitch * rad), spit = Math.sin(f.head_pitch * rad);
    const crol = Math.cos(f.head_roll * rad), srol = Math.sin(f.head_roll * rad);
    for (let i = 0; i < this.nFace; i++) {
      const dx = p[2 * i] - cx, dy = p[2 * i + 1] - cy;
      let x = dx * ax + dy * ay;
      let y = dx * bx + dy * by;
      let z = this.depth[i];
      const x1 = x * cyaw - z * syaw;
      z = x * syaw + z * cyaw;
      x = x1;
      y = y * cpit - z * spit;
      const x2 = x * crol - y * srol;
      y = x * srol + y * crol;
      x = x2;
      p[2 * i] = cx + x * ax + y * bx;
      p[2 * i + 1] = cy + x * ay + y * by;
    }
    return p;
  }

  draw(f) {
    const gl = this.gl;
    const p = this.controlPoints(f);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.quadBuffer);
    gl.vertexAttribPointer(this.aPos, 2, gl.FLOAT, false, 0, 0);
    gl.vertexAttribPointer(this.aUv, 2, gl.FLOAT, false, 0, 0);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.pointBuffer);
    gl.bufferSubData(gl.ARRAY_BUFFER, 0, p);
    gl.vertexAttribPointer(this.aPos, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.restBuffer);
    gl.vertexAttribPointer(this.aUv, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.indexBuffer);
    gl.drawElements(gl.TRIANGLES, this.indexCount, gl.UNSIGNED_SHORT, 0);
    this.ctx.drawImage(this.glCanvas, 0, 0);
    this._fillMouth(p);
  }

  /** portrait._fill_mouth: a dark interior and a band of upper teeth, faded in by the gap. */
  _fillMouth(p) {
    const rig = this.rig;
    const mouth = rig.mouth;
    const gap = Math.hypot(p[26] - p[28], p[27] - p[29]); // points 13 and 14
    const strength = clamp((gap - rig.rest_gap) / (mouth.fade * rig.height), 0, 1);
    if (strength <= 0) return;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const i of this.contour) {
      x0 = Math.min(x0, p[2 * i]); x1 = Math.max(x1, p[2 * i]);
      y0 = Math.min(y0, p[2 * i + 1]); y1 = Math.max(y1, p[2 * i + 1]);
    }
    x0 = Math.max(0, Math.floor(x0) - 2); y0 = Math.max(0, Math.floor(y0) - 2);
    x1 = Math.min(this.size, Math.ceil(x1) + 3); y1 = Math.min(this.size, Math.ceil(y1) + 3);
    if (x1 <= x0 || y1 <= y0) return;
    const ctx = this.layerCtx;
    ctx.clearRect(x0, y0, x1 - x0, y1 - y0);
    ctx.globalCompositeOperation = "source-over";
    ctx.globalAlpha = 1;
    ctx.fillStyle = rgb(mouth.colour);
    ctx.beginPath();
    this.contour.forEach((i, k) => (k ? ctx.lineTo : ctx.moveTo).call(ctx, p[2 * i] + 0.5, p[2 * i + 1] + 0.5));
    ctx.closePath();
    ctx.fill();
    // the teeth only where the mouth is (min(mask, teeth) in the Python)
    const depth = Math.min(mouth.teeth_depth[0] * gap, mouth.teeth_depth[1] * rig.height);
    ctx.globalCompositeOperation = "source-atop";
    ctx.globalAlpha = mouth.teeth_alpha;
    ctx.fillStyle = rgb(mouth.teeth_colour);
    ctx.beginPath();
    const upper = mouth.upper_inner;
    upper.forEach((i, k) => (k ? ctx.lineTo : ctx.moveTo).call(ctx, p[2 * i] + 0.5, p[2 * i + 1] + 0.5));
    for (let k = upper.length - 1; k >= 0; k--) {
      ctx.lineTo(p[2 * upper[k]] + 0.5, p[2 * upper[k] + 1] + depth + 0.5);
    }
    ctx.closePath();
    ctx.fill();
    ctx.globalCompositeOperation = "source-over";
    ctx.globalAlpha = 1;
    const out = this.ctx;
    out.globalAlpha = strength;
    out.drawImage(this.layer, x0, y0, x1 - x0, y1 - y0, x0, y0, x1 - x0, y1 - y0);
    out.globalAlpha = 1;
  }
}

// --- cartoon ----------------------------------------------------------------------------------

const CARTOON_PALETTE = {
  background: [232, 238, 244], skin: [246, 208, 178], skin_shade: [226, 180, 150],
  hair: [92, 62, 48], eye_white: [252, 252, 250], iris: [70, 110, 140], pupil: [25, 25, 30],
  ink: [70, 45, 40], shirt: [110, 140, 180], lips: [196, 104, 104], mouth: [70, 26, 32],
  teeth: [250, 248, 240],
};
const BACKGROUND_BOTTOM = [205, 216, 228];
const PIVOT = [500, 520];

function ellipse(cx, cy, rx, ry, n = 48) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * i) / n;
    out.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)]);
  }
  return out;
}

class CartoonAvatar {
  constructor(canvas, rig) {
    this.style = "cartoon";
    this.size = rig.size || 512;
    canvas.width = this.size;
    canvas.height = this.size;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.palette = { ...CARTOON_PALETTE, ...(rig.palette || {}) };
    this.colours = Object.fromEntries(Object.entries(this.palette).map(([k, v]) => [k, rgb(v)]));
    const gradient = this.ctx.createLinearGradient(0, 0, 0, this.size);
    gradient.addColorStop(0, this.colours.background);
    gradient.addColorStop(1, rgb(BACKGROUND_BOTTOM));
    this.background = gradient;
  }

  /** [x0, y0, x1, y1]: where the mouth moves, in canvas pixels. */
  mouthBox() {
    const s = this.size / 1000;
    return [390 * s, 640 * s, 610 * s, 790 * s].map(Math.round);
  }

  draw(f) {
    const ctx = this.ctx;
    const c = this.colours;
    const scale = this.size / 1000;
    const roll = (f.head_roll * Math.PI) / 180;
    const cos = Math.cos(roll), sin = Math.sin(roll);
    // parallax: features move with yaw/pitch more than the head outline does
    const fx = -f.head_yaw * 6, fy = f.head_pitch * 6;
    const pts = (xy, parallax = 1) => xy.map(([x, y]) => {
      const px = x + fx * parallax - PIVOT[0], py = y + fy * parallax - PIVOT[1];
      return [(px * cos - py * sin + PIVOT[0]) * scale, (px * sin + py * cos + PIVOT[1]) * scale];
    });
    const path = (poly) => {
      ctx.beginPath();
      poly.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    };
    const fill = (poly, colour) => {
      path(poly);
      ctx.closePath();
      ctx.fillStyle = colour;
      ctx.fill();
    };
    const line = (poly, colour, width) => {
      path(poly);
      ctx.strokeStyle = colour;
      // cv2's antialiased thick lines come out about a pixel wider than their thickness
      ctx.lineWidth = Math.max(1, Math.round(width * scale)) + 1;
      ctx.stroke();
    };
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.fillStyle = this.background;
    ctx.fillRect(0, 0, this.size, this.size);

    // neck, shirt, hair back, head, hair front
    fill(pts([[420, 700], [580, 700], [600, 1000], [400, 1000]], 0.2), c.skin_shade);
    fill(pts(ellipse(500, 1060, 400, 190), 0.1), c.shirt);
    fill(pts(ellipse(500, 470, 300, 330), 0.3), c.hair);
    fill(pts(ellipse(500, 520, 235, 290), 0.6), c.skin);
    const hair = ellipse(500, 330, 250, 140, 64).filter(([x, y]) => y < 360 || Math.abs(x - 500) > 200);
    fill(pts(hair, 0.5), c.hair);

    // eyes: white, iris following the gaze, lids lowered by blinks and soft eyes
    const closure = clamp(
      f.blink + 0.35 * Math.max(0, -f.eye_open) - 0.25 * Math.max(0, f.eye_open), -0.3, 1);
    for (const side of [-1, 1]) {
      const cx = 500 + side * 95, cy = 500;
      if (closure < 0.97) {
        fill(pts(ellipse(cx, cy, 52, 30)), c.eye_white);
        const ix = cx + f.gaze_x * 18, iy = cy + f.gaze_y * 8;
        fill(pts(ellipse(ix, iy, 22, 22)), c.iris);
        fill(pts(ellipse(ix, iy, 10, 10)), c.pupil);
        fill(pts(ellipse(ix + 7, iy - 8, 5, 5, 12)), c.eye_white);
      }
      const lidY = cy - 30 + 60 * Math.max(0, closure) - 8 * Math.max(0, -closure);
      fill(pts([[cx - 60, cy - 50], [cx + 60, cy - 50], [cx + 60, lidY], [cx - 60, lidY]]), c.skin);
      const upper = [];
      for (let i = 0; i < 16; i++) {
        const t = Math.PI + (Math.PI * i) / 15;
        upper.push([cx + 52 * Math.cos(t), Math.min(cy + 30 * Math.sin(t) + 60 * Math.max(0, closure), cy + 30)]);
      }
      line(pts(upper), c.ink, 6);

      // brows: raised by brow_raise, the inner end by brow_inner (concern)
      const by = cy - 70 - 28 * f.brow_raise;
      const inner = by - 30 * f.brow_inner;
      const outer = by + 8 * f.brow_inner;
      line(pts([[cx + side * 60, outer + 6], [cx, by - 8], [cx - side * 55, inner]]), c.hair, 14);
    }

    // nose
    line(pts([[500, 540], [488, 610], [506, 616]], 0.9), c.skin_shade, 7);

    // mouth: corners from smile/width/round, the gap from mouth_open
    const half = 80 * (1 + 0.25 * f.mouth_width - 0.35 * f.mouth_round);
    const mouthY = 690;
    const cornerY = mouthY - 22 * f.smile;
    const gap = 75 * f.mouth_open + 10 * f.mouth_round * (f.mouth_open > 0.05 ? 1 : 0);
    const upperLip = [], lowerLip = [];
    for (let i = 0; i < 21; i++) {
      const t = -1 + i / 10;
      const curve = mouthY + 10 * f.smile * (1 - t * t) * 0.6;
      const base = cornerY + (curve - cornerY) * (1 - t * t);
      upperLip.push([500 + half * t, base - gap * 0.25 * (1 - t * t)]);
      lowerLip.push([500 + half * t, base + gap * (1 - t * t) ** 0.8]);
    }
    if (gap > 2) {
      fill(pts([...upperLip, ...[...lowerLip].reverse()], 0.9), c.mouth);
      const depth = Math.min(16, 0.3 * gap);
      const teeth = [...upperLip, ...[...upperLip].reverse().map(([x, y]) => [x, y + depth])];
      fill(pts(teeth, 0.9), c.teeth);
      line(pts(lowerLip, 0.9), c.lips, 10);
    }
    line(pts(upperLip, 0.9), c.lips, 10);
  }
}

// --- the public object ------------------------------------------------------------------------

async function fetchRig(rigUrl, style) {
  const url = new URL(rigUrl, location.href);
  if (style) url.searchParams.set("style", style);
  const answer = await fetch(url, { credentials: "same-origin" });
  let body = null;
  try {
    body = await answer.json();
  } catch {
    body = null;
  }
  if (!answer.ok || !body || body.code) {
    const error = new Error((body && body.message) || `the avatar rig is unavailable (${answer.status})`);
    error.code = (body && body.code) || "rig_unavailable";
    throw error;
  }
  return body;
}

/**
 * Create the avatar on `canvas`: the rig of `style` (default: the server's configured style)
 * from `rigUrl`. A portrait that cannot be used (no face, no WebGL) falls back to the cartoon.
 *
 * Returns {style, size, fps, drawFrame(cue) -> whether it drew, neutralCue(t), fallback,
 * stats: {draws, ms}} where t is in seconds (any steady clock) and a cue holds the 13 columns.
 */
export async function createAvatar(canvas, { style = null, rigUrl = "/avatar/rig.json", reducedMotion = false } = {}) {
  let rig = null;
  let renderer = null;
  let fallback = null;
  try {
    rig = await fetchRig(rigUrl, style);
    if (rig.style === "portrait") {
      const image = await loadImage(rig.image);
      renderer = new PortraitAvatar(canvas, rig, image);
    } else {
      renderer = new CartoonAvatar(canvas, rig);
    }
  } catch (error) {
    if (rig && rig.style === "cartoon") throw error;
    fallback = error.code || "portrait_unavailable";
    let cartoonRig = { style: "cartoon", size: 512, fps: 25 };
    try {
      cartoonRig = await fetchRig(rigUrl, "cartoon");
    } catch {
      // the built-in palette and size do
    }
    rig = cartoonRig;
    renderer = new CartoonAvatar(canvas, rig);
  }
  const expressiveness = typeof rig.expressiveness === "number" ? rig.expressiveness : 1;
  const life = new IdleLife({ smile: 0.15 * expressiveness, reducedMotion });
  let last = null;
  const stats = { draws: 0, ms: 0 };
  return {
    style: renderer.style,
    size: renderer.size,
    fps: rig.fps || 25,
    fallback,
    stats,
    /** Draw one cue frame; skipped (false) when it equals the last one drawn. */
    drawFrame(cue) {
      if (!cue || sameCue(cue, last)) return false;
      const started = performance.now();
      renderer.draw(cue);
      stats.ms += performance.now() - started;
      stats.draws += 1;
      last = { ...cue };
      return true;
    },
    /** [x0, y0, x1, y1]: the region of the canvas where the mouth moves. */
    mouthBox() {
      return renderer.mouthBox();
    },
    /** The idle face at time `t` (seconds): blinks, a slow head drift, gaze at the viewer. */
    neutralCue(t) {
      return life.cue(t);
    },
    set reducedMotion(value) {
      life.reducedMotion = Boolean(value);
    },
  };
}
