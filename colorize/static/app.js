// The colorize page: upload, colour points (undo and redo, suggested colours, saved and loaded as
// JSON), enhancement controls, a before/after slider, download; a preview of a few frames of a video clip.
// Interactive requests send a copy of the photo downscaled to PREVIEW pixels (fast: the server keeps
// the network's colours of that copy, so a new point costs only its spread); the download sends
// the original once, with the points scaled to its pixels.  Points live in preview pixels here and
// in the photo's own pixels in saved files and requests for the original.
"use strict";

const PREVIEW = 512;
const state = { file: null, preview: null, scale: 1, width: 0, height: 0, points: [], operations: [],
                busy: false, again: false, resultUrl: null, history: [], future: [], selected: -1,
                palette: null };
const $ = (id) => document.getElementById(id);

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function errorText(response) {
  try { return (await response.json()).error; } catch (_) { return `${response.status} ${response.statusText}`; }
}

// -- the photo ------------------------------------------------------------------------------------
async function choose(file) {
  if (!file) return;
  state.file = file;
  state.points = [];
  state.history = [];
  state.future = [];
  state.selected = -1;
  state.palette = null;
  const bitmap = await createImageBitmap(file).catch(() => null);
  if (!bitmap) { say(`${file.name} is not an image this browser can read`, true); return; }
  state.width = bitmap.width;
  state.height = bitmap.height;
  state.scale = Math.min(1, PREVIEW / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * state.scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * state.scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  state.preview = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  $("original").src = URL.createObjectURL(file);
  $("before").src = $("original").src;
  renderPoints();
  await update();
}

// -- the request ----------------------------------------------------------------------------------
function enhanceText() {
  return state.operations.filter((op) => op.enabled).map((op) => {
    const args = op.parameters.filter((p) => p.kind !== "fixed").map((p) => `${p.name}=${p.value}`);
    return args.length ? `${op.name}:${args.join(",")}` : op.name;
  }).join(" ");
}

function form(blob, name, scale) {
  const data = new FormData();
  data.append("image", blob, name);
  data.append("hints", JSON.stringify(state.points.map((p) => (
    { y: Math.min(p.y * scale, state.height * state.scale * scale - 0.5),
      x: Math.min(p.x * scale, state.width * state.scale * scale - 0.5), color: p.color }))));
  data.append("enhance", enhanceText());
  data.append("vividness", $("vividness").value);
  return data;
}

async function update() {
  if (!state.preview) return;
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  say("colorizing…");
  const started = performance.now();
  try {
    const response = await fetch("/api/colorize", { method: "POST", body: form(state.preview, "preview.png", 1) });
    if (!response.ok) { say(await errorText(response), true); return; }
    if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
    state.resultUrl = URL.createObjectURL(await response.blob());
    $("result").src = state.resultUrl;
    await $("result").decode();
    $("result").dataset.version = String(Number($("result").dataset.version || 0) + 1);
    $("work").hidden = false;                 // the panels appear with the first result, never empty
    $("drop").classList.remove("empty");
    say(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (problem) {
    say(`the server did not answer: ${problem}`, true);
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; update(); }
  }
}

// -- colour points --------------------------------------------------------------------------------
function resultPixel(x, y) {        // the model's colour at preview pixel (x, y), as #rrggbb
  const image = $("result");
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const [r, g, b] = context.getImageData(Math.floor(x), Math.floor(y), 1, 1).data;
  return "#" + [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("");
}

function toPreview(event) {          // a mouse position on the displayed result -> preview pixels
  const box = $("result").getBoundingClientRect();
  const x = (event.clientX - box.left) * ($("result").naturalWidth / box.width);
  const y = (event.clientY - box.top) * ($("result").naturalHeight / box.height);
  return { x: Math.max(0, Math.min(x, $("result").naturalWidth - 0.5)),
           y: Math.max(0, Math.min(y, $("result").naturalHeight - 0.5)) };
}

function copyPoints(points) { return points.map((p) => ({ x: p.x, y: p.y, color: p.color })); }

function change(edit) {               // every edit of the points: undoable, then a new result
  state.history.push(copyPoints(state.points));
  state.future = [];
  edit();
  renderPoints();
  update();
}

function travel(from, to) {           // undo (from history to future) or redo (the other way)
  if (!from.length) return;
  to.push(copyPoints(state.points));
  state.points = from.pop();
  state.selected = Math.min(state.selected, state.points.length - 1);
  state.palette = null;
  renderPoints();
  update();
}
const undo = () => travel(state.history, state.future);
const redo = () => travel(state.future, state.history);

async function suggest(index) {       // the colorizer's own colours around a point, as a palette
  const point = state.points[index];
  const data = new FormData();
  data.append("image", state.preview, "preview.png");
  data.append("y", String(point.y));
  data.append("x", String(point.x));
  data.append("vividness", $("vividness").value);
  const response = await fetch("/api/suggest", { method: "POST", body: data });
  if (!response.ok) { say(await errorText(response), true); return; }
  if (state.points[index] !== point) return;          // the point went away meanwhile
  state.palette = { point, colors: (await response.json()).colors };
  renderPoints();
}

function renderPoints() {
  const list = $("points");
  const markers = $("markers");
  list.replaceChildren();
  markers.replaceChildren();
  const image = $("result");
  const shown = image.getBoundingClientRect();
  const factor = image.naturalWidth ? shown.width / image.naturalWidth : 1;
  state.points.forEach((point, index) => {
    const marker = document.createElement("div");
    marker.className = "marker";
    marker.style.left = `${point.x * factor}px`;
    marker.style.top = `${point.y * factor}px`;
    marker.style.background = point.color;
    marker.dataset.index = index;
    marker.addEventListener("mousedown", (event) => startDrag(event, index));
    markers.append(marker);

    const item = document.createElement("li");
    if (index === state.selected) item.className = "selected";
    const colour = document.createElement("input");
    colour.type = "color";
    colour.value = point.color;
    colour.className = "point-colour";
    colour.addEventListener("change", () => change(() => { point.color = colour.value; }));
    const pick = document.createElement("button");
    pick.type = "button";
    pick.textContent = "suggest";
    pick.title = "colours the colorizer predicts around this point";
    pick.addEventListener("click", () => { state.selected = index; suggest(index); });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "delete";
    remove.className = "delete";
    remove.addEventListener("click", () => change(() => {
      state.points.splice(index, 1);
      state.selected = -1;
    }));
    item.append(colour, ` at ${Math.round(point.y / state.scale)}, ${Math.round(point.x / state.scale)} `, pick, remove);
    if (state.palette && state.palette.point === point) {
      const palette = document.createElement("div");
      palette.className = "palette";
      for (const suggestion of state.palette.colors) {
        const swatch = document.createElement("button");
        swatch.type = "button";
        swatch.className = "swatch";
        swatch.style.background = suggestion;
        swatch.title = suggestion;
        swatch.dataset.color = suggestion;
        swatch.addEventListener("click", () => change(() => { point.color = suggestion; }));
        palette.append(swatch);
      }
      item.append(palette);
    }
    list.append(item);
  });
  $("undo").disabled = !state.history.length;
  $("redo").disabled = !state.future.length;
  $("clear").disabled = $("save-points").disabled = !state.points.length;
}

let drag = null;
function startDrag(event, index) {
  event.preventDefault();
  event.stopPropagation();
  drag = { index, moved: false, before: copyPoints(state.points) };
}
document.addEventListener("mousemove", (event) => {
  if (!drag) return;
  Object.assign(state.points[drag.index], toPreview(event));
  drag.moved = true;
  renderPoints();
});
document.addEventListener("mouseup", () => {
  if (drag && drag.moved) {
    state.history.push(drag.before);
    state.future = [];
    renderPoints();
    update();
  }
  drag = null;
});

$("stage").addEventListener("click", (event) => {
  if (!$("result").naturalWidth || event.target.classList.contains("marker")) return;
  const point = toPreview(event);
  change(() => {
    state.points.push({ ...point, color: resultPixel(point.x, point.y) });
    state.selected = state.points.length - 1;
  });
  suggest(state.selected);
});

$("undo").addEventListener("click", undo);
$("redo").addEventListener("click", redo);
$("clear").addEventListener("click", () => change(() => { state.points = []; state.selected = -1; }));
$("show-points").addEventListener("change", () => {
  $("stage").classList.toggle("no-points", !$("show-points").checked);
});
document.addEventListener("keydown", (event) => {
  if (!(event.ctrlKey || event.metaKey) || !state.preview) return;
  const key = event.key.toLowerCase();
  if (key === "z" && !event.shiftKey) { event.preventDefault(); undo(); }
  else if ((key === "z" && event.shiftKey) || key === "y") { event.preventDefault(); redo(); }
});

// -- points as files: the project's JSON, [{"y": .., "x": .., "color": "#rrggbb"}] in the photo's pixels
$("save-points").addEventListener("click", () => {
  const points = state.points.map((p) => ({ y: +(p.y / state.scale).toFixed(1), x: +(p.x / state.scale).toFixed(1),
                                           color: p.color }));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([JSON.stringify(points, null, 1)], { type: "application/json" }));
  link.download = (state.file ? state.file.name.replace(/\.[^.]*$/, "") : "photo") + "-points.json";
  document.body.append(link);
  link.click();
  link.remove();
});

function readPoints(text) {           // a saved file -> points in preview pixels; Error naming the problem
  let data;
  try { data = JSON.parse(text); } catch (problem) { throw new Error(`not JSON: ${problem.message}`); }
  if (!Array.isArray(data)) throw new Error("not a list of points");
  return data.map((entry, index) => {
    const { y, x, color } = entry || {};
    if (!Number.isFinite(y) || !Number.isFinite(x) || y < 0 || x < 0 || y >= state.height || x >= state.width) {
      throw new Error(`point ${index + 1} is not inside the ${state.width}x${state.height} photo`);
    }
    if (typeof color !== "string" || !/^#[0-9a-fA-F]{6}$/.test(color)) {
      throw new Error(`point ${index + 1}: colour ${JSON.stringify(color)} is not of the form #rrggbb`);
    }
    return { y: y * state.scale, x: x * state.scale, color: color.toLowerCase() };
  });
}

$("load-points").addEventListener("change", async () => {
  const file = $("load-points").files[0];
  $("load-points").value = "";
  if (!file || !state.preview) return;
  try {
    const points = readPoints(await file.text());
    change(() => { state.points = points; state.selected = -1; state.palette = null; });
  } catch (problem) {
    say(`${file.name}: ${problem.message}`, true);
  }
});

// -- enhancement controls -------------------------------------------------------------------------
async function loadOperations() {
  const response = await fetch("/api/operations");
  const { operations, vividness } = await response.json();
  $("vividness").value = String(vividness ?? 0);
  $("vividness-value").textContent = Number($("vividness").value).toFixed(2);
  $("vividness").addEventListener("input", () => {
    $("vividness-value").textContent = Number($("vividness").value).toFixed(2);
  });
  $("vividness").addEventListener("change", () => update());
  state.operations = operations.map((op) => ({ ...op, enabled: false,
    parameters: op.parameters.map((p) => ({ ...p, value: p.default })) }));
  const box = $("operations");
  for (const op of state.operations) {
    const section = document.createElement("div");
    section.className = "operation";
    const label = document.createElement("label");
    const toggle = document.createElement("input");
    toggle.type = "checkbox";
    toggle.dataset.operation = op.name;
    toggle.addEventListener("change", () => { op.enabled = toggle.checked; update(); });
    label.append(toggle, ` ${op.name}`);
    label.title = op.summary;
    section.append(label);
    for (const param of op.parameters) {
      if (param.kind === "fixed") continue;
      const row = document.createElement("div");
      row.className = "param";
      const input = document.createElement("input");
      const shown = document.createElement("span");
      if (param.kind === "flag") {
        input.type = "checkbox";
        input.checked = Boolean(param.value);
        input.addEventListener("change", () => { param.value = input.checked; if (op.enabled) update(); });
      } else {
        Object.assign(input, { type: "range", min: param.min, max: param.max, step: param.step, value: param.value });
        shown.textContent = param.value;
        input.addEventListener("input", () => { shown.textContent = input.value; });
        input.addEventListener("change", () => {
          param.value = Number(input.value);
          shown.textContent = input.value;
          if (op.enabled) update();
        });
      }
      input.dataset.operation = op.name;
      input.dataset.parameter = param.name;
      row.append(param.name, input, shown);
      section.append(row);
    }
    box.append(section);
  }
}

// -- compare, download ----------------------------------------------------------------------------
$("compare").addEventListener("input", () => {    // the original over the result, from the left
  $("before").style.clipPath = `inset(0 ${100 - Number($("compare").value)}% 0 0)`;
});

$("download").addEventListener("click", async () => {
  if (!state.file) return;
  say("colorizing at full resolution…");
  const response = await fetch("/api/colorize", { method: "POST", body: form(state.file, state.file.name, 1 / state.scale) });
  if (!response.ok) { say(await errorText(response), true); return; }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = state.file.name.replace(/\.[^.]*$/, "") + "-colorized.png";
  document.body.append(link);
  link.click();
  link.remove();
  say(`downloaded ${link.download}`);
});

// -- a video clip: a preview of a few frames --------------------------------------------------------
async function previewClip(file) {
  if (!file) return;
  const status = $("clip-status");
  const tell = (text, isError = false) => { status.textContent = text; status.className = isError ? "error" : ""; };
  tell(`colorizing 4 frames of ${file.name}…`);
  $("clip-frames").replaceChildren();
  const data = new FormData();
  data.append("video", file, file.name);
  data.append("frames", "4");
  data.append("vividness", $("vividness").value);
  const response = await fetch("/api/video", { method: "POST", body: data });
  if (!response.ok) { tell(await errorText(response), true); return; }
  const body = await response.json();
  for (const frame of body.frames) {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = `frame ${frame.index} (${frame.time.toFixed(2)} s)`;
    const image = document.createElement("img");
    image.src = frame.image;
    image.alt = `frame ${frame.index} of the clip, colorized`;
    figure.append(caption, image);
    $("clip-frames").append(figure);
  }
  tell(`${body.frames.length} of its ${body.total} frames (${body.rate} frames/s), each colorized on its own`);
}
$("clip").addEventListener("change", () => previewClip($("clip").files[0]));

// -- choosing a file --------------------------------------------------------------------------------
$("file").addEventListener("change", () => choose($("file").files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  choose(event.dataTransfer.files[0]);
});
window.addEventListener("resize", renderPoints);
loadOperations();
