// The colorize page: upload, colour points, enhancement controls, download.
// Interactive requests send a copy of the photo downscaled to PREVIEW pixels (fast);
// the download sends the original once, with the points scaled to its pixels.
"use strict";

const PREVIEW = 512;
const state = { file: null, preview: null, scale: 1, width: 0, height: 0, points: [], operations: [],
                busy: false, again: false, resultUrl: null };
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
    const colour = document.createElement("input");
    colour.type = "color";
    colour.value = point.color;
    colour.className = "point-colour";
    colour.addEventListener("change", () => { point.color = colour.value; renderPoints(); update(); });
    const take = document.createElement("button");
    take.type = "button";
    take.textContent = "model's colour";
    take.addEventListener("click", () => { point.color = resultPixel(point.x, point.y); renderPoints(); update(); });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "delete";
    remove.className = "delete";
    remove.addEventListener("click", () => { state.points.splice(index, 1); renderPoints(); update(); });
    item.append(colour, ` at ${Math.round(point.x / state.scale)}, ${Math.round(point.y / state.scale)} `, take, remove);
    list.append(item);
  });
}

let drag = null;
function startDrag(event, index) {
  event.preventDefault();
  event.stopPropagation();
  drag = { index, moved: false };
}
document.addEventListener("mousemove", (event) => {
  if (!drag) return;
  Object.assign(state.points[drag.index], toPreview(event));
  drag.moved = true;
  renderPoints();
});
document.addEventListener("mouseup", () => {
  if (drag && drag.moved) update();
  drag = null;
});

$("stage").addEventListener("click", (event) => {
  if (!$("result").naturalWidth || event.target.classList.contains("marker")) return;
  const point = toPreview(event);
  state.points.push({ ...point, color: resultPixel(point.x, point.y) });
  renderPoints();
  update();
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
$("compare").addEventListener("mousedown", () => { if (state.resultUrl) $("result").src = $("original").src; });
$("compare").addEventListener("mouseup", () => { if (state.resultUrl) $("result").src = state.resultUrl; });
$("compare").addEventListener("mouseleave", () => { if (state.resultUrl) $("result").src = state.resultUrl; });

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
