// Plays a recording's MP4 segments one after the other in a <video> element, with seeking
// inside each segment (served with HTTP range requests) and a segment picker.
export function render({ model, el }) {
  const video = document.createElement("video");
  video.controls = true;
  video.muted = true;
  video.className = "ts-player";
  video.style.width = "100%";
  video.style.background = "#111";
  const bar = document.createElement("div");
  bar.className = "ts-segments";
  el.append(video, bar);
  let index = 0;

  function load(i, play) {
    const urls = model.urls || [];
    if (!urls.length) { video.removeAttribute("src"); video.load(); bar.textContent = "No segments."; return; }
    index = Math.max(0, Math.min(i, urls.length - 1));
    video.src = urls[index];
    video.dataset.segment = String(index);
    [...bar.children].forEach((b, k) => b.classList.toggle("active", k === index));
    if (play) video.play().catch(() => {});
  }

  function buttons() {
    bar.textContent = "";
    (model.urls || []).forEach((_, k) => {
      const b = document.createElement("button");
      b.textContent = String(k + 1);
      b.title = `segment ${k + 1}`;
      b.onclick = () => load(k, true);
      bar.appendChild(b);
    });
  }

  video.addEventListener("ended", () => { if (index + 1 < (model.urls || []).length) load(index + 1, true); });
  model.on("change:urls", () => { buttons(); load(0, false); });
  buttons();
  load(0, false);
}
