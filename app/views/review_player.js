// Review player: plays a camera's segments of the shown day one after the other. Python says where to
// play (`target`: segment k, seconds into it, a serial number so the same place can be asked twice);
// the player loads that segment, seeks inside it once its metadata is in, and plays on into the next
// segments (after the last one it bumps `finished`: the page may go on into the next day). data-* attributes tell what plays (segment, recording, epoch ms, and `serial`: the request
// it answers, or "next" once it played on by itself) for the page and tests.
export function render({ model, el }) {
  const video = document.createElement("video");
  video.controls = true;
  video.muted = true;
  video.className = "ts-review-video";
  video.style.cssText = "width:100%;display:block;background:#111;max-height:60vh";
  const label = document.createElement("div");
  label.className = "ts-review-now";
  label.style.cssText = "font-size:13px;color:#555;margin-top:4px";
  el.append(video, label);
  let index = -1, pending = null;

  const segments = () => model.segments || [];

  function show() {
    const seg = segments()[index];
    if (!seg) { label.textContent = "Nothing playing."; return; }
    const at = seg.start + video.currentTime * 1000;
    video.dataset.time = String(at);
    label.textContent = `Playing ${seg.text || ""} · ${new Date(at).toLocaleTimeString()}`;
  }

  function load(k, offset, play, serial) {
    const seg = segments()[k];
    if (!seg) return;
    index = k;
    video.dataset.serial = String(serial);
    video.dataset.segment = String(k);
    video.dataset.recording = String(seg.recording_id);
    video.dataset.url = seg.url;
    pending = offset;
    delete video.dataset.seeked;
    if (video.getAttribute("src") !== seg.url) {
      video.src = seg.url;
    } else if (video.readyState >= 1) {
      seek();
    }
    if (play) video.play().catch(() => {});
  }

  function seek() {
    if (pending == null) return;
    const to = Math.max(0, Math.min(pending, (video.duration || pending) - 0.05));
    pending = null;
    video.currentTime = to;
    video.dataset.seeked = String(to);
  }

  function go() {
    const t = model.target || {};
    if (t.index == null || t.index < 0) { index = -1; video.removeAttribute("src"); video.load(); show(); return; }
    load(t.index, t.offset || 0, true, t.serial);
  }

  video.addEventListener("loadedmetadata", seek);
  video.addEventListener("timeupdate", show);
  video.addEventListener("ended", () => {
    if (index + 1 < segments().length) load(index + 1, 0, true, "next");
    else model.finished = (model.finished || 0) + 1;  // the day's last one: Python may go on into the next day
  });
  model.on("change:target", go);
  // Segments added to the shown day (today, while recording) keep the playing one playing, found again by URL.
  model.on("change:segments", () => { index = segments().findIndex((s) => s.url === video.dataset.url); });
  go();
}
