// Draws binary JPEG frames onto a canvas. Transport "ws": the server's /ws/video/{id}
// WebSocket (encode once, fan out). Transport "msg": frames pushed by Python with _send_msg
// (notebooks). Each message is an 8-byte big-endian float64 capture time in ms, then the JPEG.
export function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.className = "ts-view";
  const canvas = document.createElement("canvas");
  canvas.width = 640; canvas.height = 512;
  canvas.className = "ts-canvas";
  canvas.dataset.frames = "0";
  const hud = document.createElement("div");
  hud.className = "ts-hud";
  wrap.append(canvas, hud);
  el.appendChild(wrap);
  const ctx = canvas.getContext("2d");
  let busy = false, frames = 0, ws = null, closed = false, lastCount = 0, retry = null;

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
    if (closed || model.transport !== "ws") return;
    const proto = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${proto}://${location.host}/ws/video/${model.camera_id}`);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => draw(e.data);
    ws.onclose = () => { ws = null; if (!closed) retry = setTimeout(connect, 1000); };
  }

  function reconnect() {
    if (ws) { ws.onclose = null; ws.close(); ws = null; }
    clearTimeout(retry);
    connect();
  }

  let fpsText = "", lastMove = 0;
  const showHud = () => { hud.textContent = model.readout ? `${model.readout} · ${fpsText}` : fpsText; };
  const tick = setInterval(() => {
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
  model.on("change:readout", showHud);

  model.on("msg:custom", draw);
  model.on("change:camera_id", reconnect);
  model.on("change:transport", reconnect);
  model.on("remove", () => {
    closed = true; clearInterval(tick); clearTimeout(retry);
    if (ws) { ws.onclose = null; ws.close(); }
  });
  connect();
}
