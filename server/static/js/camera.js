// The camera as JPEG frames for user.image: a few frames a second, only while it is on.
//
// Privacy: frames go to the "frame" listeners and are dropped; nothing is stored or logged.

import { mediaErrorMessage } from "./audio.js";

/**
 * Camera frames as base64 JPEG (no data: prefix), `fps` a second.
 * Events: "frame" ({base64, width, height}), "start", "stop".
 */
export class CameraCapture extends EventTarget {
  constructor() {
    super();
    this._stream = null;
    this._video = null;
    this._ownVideo = false;
    this._timer = null;
    this._canvas = null;
    this._starting = null;
  }

  /** Whether the camera is on. */
  get active() {
    return this._stream !== null;
  }

  /**
   * Open the camera and send a frame every 1/fps s (keep fps below the server's
   * limits.max_image_fps). The preview shows in `video` when one is given. Rejects with an
   * Error whose message says what went wrong.
   */
  async start({ fps = 2, maxSide = 640, quality = 0.7, video = null } = {}) {
    if (this._stream) return;
    if (this._starting) return this._starting;
    this._starting = this._start({ fps, maxSide, quality, video }).finally(() => {
      this._starting = null;
    });
    return this._starting;
  }

  async _start({ fps, maxSide, quality, video }) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("This browser cannot use a camera on this page (it needs https or localhost).");
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
        audio: false,
      });
    } catch (error) {
      throw new Error(mediaErrorMessage(error, "camera"));
    }
    const element = video || document.createElement("video");
    this._ownVideo = !video;
    element.muted = true;
    element.playsInline = true;
    element.srcObject = stream;
    try {
      await element.play();
    } catch {
      // a hidden element may refuse to play; frames are still drawn once data arrives
    }
    this._stream = stream;
    this._video = element;
    this._canvas = document.createElement("canvas");
    const interval = 1000 / Math.max(0.1, fps);
    this._timer = setInterval(() => this._grab(maxSide, quality), interval);
    for (const track of stream.getVideoTracks()) {
      // the camera was unplugged or revoked
      track.addEventListener("ended", () => this.stop());
    }
    this.dispatchEvent(new CustomEvent("start"));
  }

  _grab(maxSide, quality) {
    const video = this._video;
    if (!video || video.readyState < 2 || !video.videoWidth) return;
    const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
    const width = Math.max(1, Math.round(video.videoWidth * scale));
    const height = Math.max(1, Math.round(video.videoHeight * scale));
    const canvas = this._canvas;
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    const g = canvas.getContext("2d");
    g.drawImage(video, 0, 0, width, height);
    const url = canvas.toDataURL("image/jpeg", quality);
    const comma = url.indexOf(",");
    if (comma < 0) return;
    const base64 = url.slice(comma + 1);
    this.dispatchEvent(new CustomEvent("frame", { detail: { base64, width, height } }));
  }

  /** Turn the camera off and release it (the browser's indicator goes off). */
  stop() {
    if (this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
    const stream = this._stream;
    this._stream = null;
    if (stream) {
      for (const track of stream.getTracks()) track.stop();
    }
    if (this._video) {
      try {
        this._video.pause();
      } catch {
        // nothing playing
      }
      this._video.srcObject = null;
      this._video = null;
    }
    if (stream) this.dispatchEvent(new CustomEvent("stop"));
  }
}
