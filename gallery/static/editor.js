// The region editor: rectangles and freehand lassos over the image, undo, Submit.
// Shapes travel as polygons in fractions of the image (0..1), as the engine draws them.
"use strict";
(function () {
  const root = document.getElementById("editor");
  const token = root.dataset.token;
  const base = root.dataset.root + "/edit/" + token;
  const canvas = document.getElementById("mask");
  const ctx = canvas.getContext("2d");
  const status = document.getElementById("status");
  const submit = document.getElementById("submit");
  const tools = { rect: document.getElementById("tool-rect"), lasso: document.getElementById("tool-lasso") };
  const MAX_POINTS = 1024;
  let tool = "rect";
  let shapes = [];
  let drawing = null; // the shape being drawn: {kind, points}

  function at(event) {
    const box = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
  }

  function rectangle(a, b) {
    const [x0, x1] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])];
    const [y0, y1] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])];
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
  }

  function outline(points) {
    if (drawing && drawing.kind === "rect") return rectangle(points[0], points[points.length - 1]);
    return points;
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const all = shapes.concat(drawing ? [outline(drawing.points)] : []);
    for (const points of all) {
      if (points.length < 2) continue;
      ctx.beginPath();
      points.forEach(([x, y], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, x * canvas.width, y * canvas.height));
      ctx.closePath();
      ctx.fillStyle = "rgba(255, 64, 160, 0.45)";
      ctx.strokeStyle = "#ff40a0";
      ctx.lineWidth = Math.max(1, canvas.width / 256);
      ctx.fill();
      ctx.stroke();
    }
  }

  function thin(points) {
    if (points.length <= MAX_POINTS) return points;
    const step = points.length / MAX_POINTS;
    return Array.from({ length: MAX_POINTS }, (_, i) => points[Math.floor(i * step)]);
  }

  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    drawing = { kind: tool, points: [at(event)] };
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    if (drawing.kind === "rect") drawing.points[1] = at(event);
    else drawing.points.push(at(event));
    redraw();
  });
  canvas.addEventListener("pointerup", (event) => {
    if (!drawing) return;
    if (drawing.kind === "rect") drawing.points[1] = at(event);
    const points = thin(outline(drawing.points));
    drawing = null;
    if (points.length >= 3) shapes.push(points);
    redraw();
  });

  function choose(name) {
    tool = name;
    for (const [key, button] of Object.entries(tools)) button.setAttribute("aria-pressed", String(key === name));
  }
  tools.rect.addEventListener("click", () => choose("rect"));
  tools.lasso.addEventListener("click", () => choose("lasso"));
  document.getElementById("undo").addEventListener("click", () => {
    shapes.pop();
    redraw();
  });

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  async function follow() {
    const reply = await fetch(base + "/status", { cache: "no-store" });
    const body = await reply.json();
    if (!reply.ok) return say(body.error, true);
    if (body.state === "queued") return say("Queued: your edit will be posted in Discord under the original.", false);
    if (body.state === "refused") return say(body.message, true);
    setTimeout(follow, 1000);
  }

  submit.addEventListener("click", async () => {
    submit.disabled = true;
    say("Sending…", false);
    const payload = { prompt: document.getElementById("prompt").value, shapes: shapes.map((points) => ({ points })) };
    let reply;
    try {
      reply = await fetch(base, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
    } catch (error) {
      submit.disabled = false;
      return say("Nanke could not be reached; try again.", true);
    }
    const body = await reply.json();
    if (reply.status === 202) {
      say("Sent: Nanke is checking it…", false);
      return follow();
    }
    say(body.error, true);
    submit.disabled = reply.status === 403 || reply.status === 410; // a dead link stays dead
  });
})();
