// Draws binary JPEG frames onto a canvas. Transport "ws": the server's /ws/video/{id}
// WebSocket (encode once, fan out). Transport "msg": frames pushed by Python with _send_msg
// (notebooks). Each message is an 8-byte big-endian float64 capture time in ms, then the JPEG.
export function render({ model, el }) {
  // the script runs: the notebook's "did not load" notice is not needed
  if (model.notice) document.getElementById(model.notice)?.remove();
  const wrap = document.createElement("div");
  wrap.className = "ts-view";
  const canvas = document.createElement("canvas");
  canvas.width = 640; canvas.height = 512;
  canvas.className = "ts-canvas";
  canvas.dataset.frames = "0";
  const hud = document.createElement("div");
  hud.className = "ts-hud";
  // Polygon drawing for masks and zones: clicks add points (0..1 image coordinates) while
  // `drawing` is on; Python reads them from `polygon`.
  const sketch = document.createElement("canvas");
  sketch.className = "ts-sketch";
  sketch.style.cssText = "position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none";
  // Colour bar beside the picture: the palette from coldest (bottom) to hottest (top), with the
  // span's ends and middle in the camera's unit (°C, or counts for an uncalibrated sensor).
  const bar = document.createElement("div");
  bar.className = "ts-bar";
  const barCanvas = document.createElement("canvas");
  barCanvas.width = 1; barCanvas.height = 64;
  const labels = [0, 1, 2].map(() => document.createElement("span"));
  bar.append(barCanvas, ...labels);
  wrap.append(canvas, sketch, hud, bar);
  function drawBar() {
    const s = model.scale || {};
    const colours = s.colours || [];
    const on = colours.length > 1;
    bar.style.display = on ? "block" : "none";
    wrap.classList.toggle("with-bar", on);
    bar.dataset.lo = on ? String(s.lo) : ""; bar.dataset.hi = on ? String(s.hi) : "";
    if (!on) return;
    const bctx = barCanvas.getContext("2d");
    barCanvas.height = colours.length;
    colours.forEach((c, i) => { bctx.fillStyle = c; bctx.fillRect(0, colours.length - 1 - i, 1, 1); });
    const unit = s.unit === "°C" ? " °C" : ` ${s.unit || ""}`;
    const digits = s.unit === "counts" ? 0 : 1;
    const mid = (s.lo + s.hi) / 2;
    [[s.hi, "8px"], [mid, "50%"], [s.lo, "calc(100% - 8px)"]].forEach(([v, top], i) => {
      labels[i].textContent = `${Number(v).toFixed(digits)}${unit}`;
      labels[i].style.top = top;
    });
  }
  el.appendChild(wrap);
  const ctx = canvas.getContext("2d");
  let busy = false, frames = 0, ws = null, closed = false, lastCount = 0, retry = null, wait = 1000;

  function bytesOf(data) {
    if (data instanceof ArrayBuffer) return data;
    if (ArrayBuffer.isView(data)) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    return null;
  }

  function draw(data) {
    const buf = bytesOf(data);
    if (!buf || buf.byteLength < 10 || busy) return;  // drop while the previous frame decodes
    busy = true;
    const captured = new DataView(buf).getFloat64(0);
    createImageBitmap(new Blob([new Uint8Array(buf, 8)], { type: "image/jpeg" }))
      .then((bmp) => {
        if (canvas.width !== bmp.width || canvas.height !== bmp.height) {
          canvas.width = bmp.width; canvas.height = bmp.height;
        }
        ctx.drawImage(bmp, 0, 0);
        bmp.close();
        frames += 1;
        canvas.dataset.frames = String(frames);
        canvas.dataset.latency = String(Math.max(0, Date.now() - captured));
      })
      .catch(() => {})
      .finally(() => { busy = false; });
  }

  function connect() {
    if (closed || model.transport !== "ws" || !model.active) return;  // stopped cameras are not polled
    const proto = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${proto}://${location.host}/ws/video/${model.camera_id}`);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => { wait = 1000; draw(e.data); };
    // refused or dropped: try again, less often while it keeps failing (1 s doubling up to 30 s)
    ws.onclose = () => { ws = null; if (!closed) { retry = setTimeout(connect, wait); wait = Math.min(wait * 2, 30000); } };
  }

  function reconnect() {
    if (ws) { ws.onclose = null; ws.close(); ws = null; }
    clearTimeout(retry);
    wait = 1000;
    connect();
  }

  let fpsText = "", lastMove = 0;
  const showHud = () => { hud.textContent = model.readout ? `${model.readout} · ${fpsText}` : fpsText; };
  const tick = setInterval(() => {
    if (model.transport === "msg") model.send_msg({ alive: true });  // Python stops pushing once these stop
    drawSketch();
    fpsText = `${frames - lastCount} fps`;
    lastCount = frames;
    showHud();
  }, 1000);

  // Spot temperature under the pointer: send image coordinates, Python answers through `readout`.
  canvas.addEventListener("mousemove", (e) => {
    const now = Date.now();
    if (now - lastMove < 100) return;
    lastMove = now;
    const r = canvas.getBoundingClientRect();
    const x = Math.floor((e.clientX - r.left) / r.width * canvas.width);
    const y = Math.floor((e.clientY - r.top) / r.height * canvas.height);
    model.send_msg({ x, y });
  });
  canvas.addEventListener("mouseleave", () => model.send_msg({ leave: true }));

  const sctx = sketch.getContext("2d");
  // Measurement regions (ROIs): outlines with their name and value, red while an alarm of theirs is up.
  function drawRois() {
    const rois = model.rois || [];
    sketch.dataset.rois = String(rois.length);
    sketch.dataset.alarms = String(rois.filter((r) => r.alarm).length);
    sketch.dataset.labels = JSON.stringify(rois.map((r) => r.label || ""));
    const W = sketch.width, H = sketch.height;
    sctx.font = "12px sans-serif"; sctx.lineWidth = 2;
    for (const r of rois) {
      const colour = r.alarm ? "#ff1744" : "#00e5ff";
      const p = (r.points || []).map(([x, y]) => [x * W, y * H]);
      if (!p.length) continue;
      sctx.strokeStyle = colour;
      sctx.beginPath();
      if (r.kind === "box" && p.length === 2) {
        sctx.rect(Math.min(p[0][0], p[1][0]), Math.min(p[0][1], p[1][1]),
                  Math.abs(p[1][0] - p[0][0]), Math.abs(p[1][1] - p[0][1]));
      } else if (r.kind === "spot") {
        const [x, y] = p[0];
        sctx.moveTo(x - 6, y); sctx.lineTo(x + 6, y); sctx.moveTo(x, y - 6); sctx.lineTo(x, y + 6);
      } else {
        p.forEach(([x, y], i) => (i ? sctx.lineTo : sctx.moveTo).call(sctx, x, y));
        if (r.kind === "polygon") sctx.closePath();
      }
      sctx.stroke();
      if (r.hot && r.kind !== "spot") {  // the hottest pixel of the region
        const [hx, hy] = [r.hot[0] * W, r.hot[1] * H];
        sctx.beginPath(); sctx.arc(hx, hy, 3, 0, 2 * Math.PI); sctx.stroke();
      }
      if (!r.label) continue;
      const x = Math.min(...p.map((q) => q[0])), y = Math.max(15, Math.min(...p.map((q) => q[1])));
      sctx.fillStyle = "rgba(0,0,0,.6)";
      sctx.fillRect(x, y - 15, sctx.measureText(r.label).width + 6, 14);
      sctx.fillStyle = colour;
      sctx.fillText(r.label, x + 3, y - 4);
    }
  }
  function drawSketch() {
    sketch.width = canvas.clientWidth; sketch.height = canvas.clientHeight;
    sketch.style.width = `${canvas.clientWidth}px`; sketch.style.height = `${canvas.clientHeight}px`;
    sctx.clearRect(0, 0, sketch.width, sketch.height);
    drawRois();
    const pts = model.polygon || [];
    sketch.dataset.points = String(pts.length);
    if (!model.drawing || !pts.length) return;
    sctx.strokeStyle = "#ffeb3b"; sctx.fillStyle = "rgba(255,235,59,0.25)"; sctx.lineWidth = 2;
    sctx.beginPath();
    pts.forEach(([x, y], i) => (i ? sctx.lineTo : sctx.moveTo).call(sctx, x * sketch.width, y * sketch.height));
    if (pts.length > 2) { sctx.closePath(); sctx.fill(); }
    sctx.stroke();
    for (const [x, y] of pts) { sctx.fillRect(x * sketch.width - 3, y * sketch.height - 3, 6, 6); }
  }
  canvas.addEventListener("click", (e) => {
    if (!model.drawing) return;
    const r = canvas.getBoundingClientRect();
    const pt = [Math.round((e.clientX - r.left) / r.width * 1000) / 1000,
                Math.round((e.clientY - r.top) / r.height * 1000) / 1000];
    model.polygon = [...(model.polygon || []), pt];
  });
  model.on("change:polygon", drawSketch);
  model.on("change:drawing", drawSketch);
  model.on("change:rois", drawSketch);
  model.on("change:readout", showHud);
  model.on("change:scale", drawBar);
  drawBar();

  model.on("msg:custom", draw);
  model.on("change:camera_id", reconnect);
  model.on("change:transport", reconnect);
  model.on("change:active", reconnect);
  model.on("remove", () => {
    // an output cleared or replaced: Python stops pushing frames (Panel's own notice of it can be lost)
    if (model.transport === "msg") { try { model.send_msg({ gone: true }); } catch (e) { /* page closing */ } }
    closed = true; clearInterval(tick); clearTimeout(retry);
    if (ws) { ws.onclose = null; ws.close(); }
  });
  connect();
}
