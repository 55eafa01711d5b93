// Plays a recording's MP4 segments one after the other in a <video>, with seeking inside each
// segment (HTTP range requests) and a segment picker. Detections are drawn over the video at
// playback from their database timestamps, so the recording itself stays clean.
export function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.style.position = "relative";
  const video = document.createElement("video");
  video.controls = true;
  video.muted = true;
  video.className = "ts-player";
  video.style.width = "100%";
  video.style.display = "block";
  video.style.background = "#111";
  const overlay = document.createElement("canvas");
  overlay.className = "ts-player-overlay";
  overlay.style.cssText = "position:absolute;left:0;top:0;width:100%;pointer-events:none";
  wrap.append(video, overlay);
  const bar = document.createElement("div");
  bar.className = "ts-segments";
  el.append(wrap, bar);
  const ctx = overlay.getContext("2d");
  let index = 0, raf = 0;

  const segments = () => model.segments || [];

  function load(i, play) {
    const segs = segments();
    if (!segs.length) {
      video.removeAttribute("src"); delete video.dataset.url; video.load(); bar.textContent = "No segments."; return;
    }
    index = Math.max(0, Math.min(i, segs.length - 1));
    video.src = segs[index].url;
    video.dataset.url = segs[index].url;
    video.dataset.segment = String(index);
    [...bar.children].forEach((b, k) => b.classList.toggle("active", k === index));
    if (play) video.play().catch(() => {});
  }

  function buttons() {
    bar.textContent = "";
    segments().forEach((_, k) => {
      const b = document.createElement("button");
      b.textContent = String(k + 1);
      b.title = `segment ${k + 1}`;
      b.onclick = () => load(k, true);
      bar.appendChild(b);
    });
  }

  // Boxes seen within `window_ms` before the current playback time (detections run at a few fps).
  function draw() {
    raf = requestAnimationFrame(draw);
    const seg = segments()[index];
    if (!seg || !video.videoWidth) return;
    if (overlay.width !== video.videoWidth || overlay.height !== video.videoHeight) {
      overlay.width = video.videoWidth; overlay.height = video.videoHeight;
      overlay.style.height = `${video.clientHeight}px`;
    }
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    if (!model.show_detections) { overlay.dataset.boxes = "0"; return; }
    const now = seg.start + video.currentTime * 1000;
    let shown = 0;
    ctx.lineWidth = 2; ctx.font = "12px sans-serif";
    for (const d of model.detections || []) {
      if (d.t > now || now - d.t > model.window_ms) continue;
      const [x1, y1, x2, y2] = d.box;
      ctx.strokeStyle = "#00e676"; ctx.fillStyle = "#00e676";
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      ctx.fillText(`${d.label} ${d.confidence.toFixed(2)}`, x1 + 2, Math.max(12, y1 - 3));
      shown += 1;
    }
    overlay.dataset.boxes = String(shown);
    video.dataset.time = String(now);
  }

  // A recording still being recorded grows: when the playing segment is still where it was, only the
  // buttons change (the video keeps playing); a video that ran out of segments plays on into the new one.
  function grown() {
    const segs = segments();
    buttons();
    if (!video.dataset.url || segs[index]?.url !== video.dataset.url) { load(0, false); return; }
    [...bar.children].forEach((b, k) => b.classList.toggle("active", k === index));
    if (video.ended && index + 1 < segs.length) load(index + 1, true);
  }

  video.addEventListener("ended", () => { if (index + 1 < segments().length) load(index + 1, true); });
  model.on("change:segments", grown);
  model.on("remove", () => cancelAnimationFrame(raf));
  buttons();
  load(0, false);
  draw();
}
