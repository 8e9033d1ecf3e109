// The IntroVAC web page: plain JavaScript, no build step, no CDN.
// An image is uploaded once (/encode gives its latent mean); the reconstruction is /decode of
// that mean and every slider step is /edit/latent on it, so moving the slider never re-uploads.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "introvac-api-key";
const DEBOUNCE_MS = 150;

const state = {
  models: [],
  model: null, // ModelInfo of the selected model
  image: null, // the Blob being edited
  z: null, // its encoder mean
  editSeq: 0, // responses of older edit requests are dropped
  timer: null,
};

// ---------------------------------------------------------------- HTTP
function headers(extra) {
  const h = Object.assign({}, extra || {});
  const key = $("api-key").value.trim();
  if (key) h["X-API-Key"] = key;
  return h;
}

function withModel(path, params) {
  const query = new URLSearchParams(params || []);
  if (state.model) query.set("model", state.model.name);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    const e = body.error || {};
    const id = e.request_id ? ` (request ${e.request_id})` : "";
    return `${response.status} ${e.code || "error"}: ${e.message || response.statusText}${id}`;
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

async function call(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) {
    const err = new Error(await errorMessage(response.clone()));
    err.status = response.status;
    err.retryAfter = Number(response.headers.get("Retry-After")) || 0;
    err.code = await response.json().then((b) => b.error && b.error.code, () => undefined);
    throw err;
  }
  return response;
}

function postJson(path, body) {
  return call(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body),
  });
}

function formOf(blob) {
  const form = new FormData();
  form.append("image", blob, blob.name || "image.png");
  return form;
}

function postImage(path, blob) {
  return call(path, { method: "POST", headers: headers(), body: formOf(blob) });
}

function showError(err) {
  const box = $("error");
  box.textContent = err ? String(err.message || err) : "";
  box.hidden = !err;
}

function showBlob(img, blob) {
  if (img.src && img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
}

// ---------------------------------------------------------------- models and controls
function checkboxes(container, names, checked, onChange) {
  const legend = container.querySelector("legend");
  container.replaceChildren(legend);
  for (const name of names) {
    const label = document.createElement("label");
    label.className = "inline";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = name;
    box.checked = checked.includes(name);
    box.addEventListener("change", onChange);
    label.append(box, " " + name.replace(/_/g, " "));
    container.append(label);
  }
}

function selected(container) {
  return [...container.querySelectorAll("input:checked")].map((b) => b.value);
}

function renderModel() {
  const names = state.model.attributes.map((a) => a.name);
  checkboxes($("attributes"), names, names.slice(0, 1), onAttributesChange);
  checkboxes($("preserve"), names, [], scheduleEdit);
  lockEditedFromPreserve();
  const first = state.model.attributes[0];
  $("delta").value = first ? first.recommended_delta : 0;
  updateOutputs();
  renderGenerate(names);
}

// An attribute cannot be edited and preserved at once (the API answers 422).
function lockEditedFromPreserve() {
  const edited = selected($("attributes"));
  for (const box of $("preserve").querySelectorAll("input")) {
    box.disabled = edited.includes(box.value);
    if (box.disabled) box.checked = false;
  }
}

function onAttributesChange() {
  lockEditedFromPreserve();
  scheduleEdit();
}

function renderGenerate(names) {
  const box = $("gen-attributes");
  box.replaceChildren();
  for (const name of names) {
    const label = document.createElement("label");
    const select = document.createElement("select");
    select.dataset.attribute = name;
    for (const [value, text] of [["", "either"], ["present", "present"], ["absent", "absent"]]) {
      select.append(new Option(text, value));
    }
    label.append(name.replace(/_/g, " ") + " ", select);
    box.append(label);
  }
}

async function loadModels() {
  try {
    const list = await (await call("models", { headers: headers() })).json();
    state.models = list.models;
    const select = $("model");
    select.replaceChildren(...list.models.map((m) => new Option(m.name, m.name, m.default, m.default)));
    state.model = list.models.find((m) => m.default) || list.models[0];
    renderModel();
    showError(null);
    if (state.image) await encodeImage();
  } catch (err) {
    showError(err);
    // While the server is still loading its models (503 not_ready), try again: opening the
    // page right after start-up must not leave it without attributes until a reload.
    if (err.status === 503) setTimeout(loadModels, 1000 * (err.retryAfter || 1));
  }
}

async function loadSamples() {
  try {
    const list = await (await call("ui/samples")).json();
    const box = $("samples");
    for (const sample of list.samples) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sample";
      button.dataset.sample = sample.name;
      button.title = sample.name;
      const img = document.createElement("img");
      img.src = sample.url;
      img.alt = sample.name;
      button.append(img);
      button.addEventListener("click", () => useSample(sample));
      box.append(button);
    }
  } catch (err) {
    showError(err);
  }
}

async function useSample(sample) {
  const blob = await (await call(sample.url)).blob();
  const name = sample.url.split("/").pop();
  await useImage(new File([blob], name, { type: blob.type }));
}

function updateOutputs() {
  $("delta-value").textContent = Number($("delta").value).toFixed(1);
  $("target-value").textContent = Number($("target").value).toFixed(2);
  const auto = $("auto").checked;
  $("delta").disabled = auto;
  $("target").disabled = !auto;
}

// ---------------------------------------------------------------- editing
async function useImage(blob) {
  state.image = blob;
  state.z = null;
  showBlob($("original"), blob);
  clearFaces();
  await encodeImage();
}

async function encodeImage() {
  document.body.dataset.busy = "encode";
  try {
    const encoded = await (await postImage(withModel("encode"), state.image)).json();
    state.z = encoded.mean;
    showDomain(encoded.typicality);
    const recon = await (await postJson(withModel("decode"), { z: encoded.mean })).blob();
    showBlob($("reconstruction"), recon);
    showError(null);
    await runEdit();
  } catch (err) {
    showError(err);
  } finally {
    delete document.body.dataset.busy;
  }
  detectFaces(state.image);
}

// The model's own verdict on the upload (/encode's `typicality`): a model of drawn faces
// answers a photo too, so say plainly when the edit is of something it never learned.
function showDomain(typicality) {
  const note = $("domain");
  if (!typicality) {
    note.hidden = true;
    return;
  }
  note.hidden = false;
  note.dataset.inDistribution = String(typicality.in_distribution);
  note.textContent = typicality.in_distribution
    ? `This image is typical of what the model was trained on (percentile ${typicality.percentile.toFixed(1)}).`
    : "This image is outside what the model was trained on (it is less typical than " +
      `${(100 - typicality.threshold_percentile).toFixed(1)}% of its held-out training images): ` +
      "its edits and probabilities mean little.";
}

function scheduleEdit() {
  updateOutputs();
  clearTimeout(state.timer);
  state.timer = setTimeout(runEdit, DEBOUNCE_MS);
}

function editRequest() {
  const auto = $("auto").checked;
  return {
    z: state.z,
    attribute: selected($("attributes")),
    delta: auto ? ["auto"] : [Number($("delta").value)],
    preserve: selected($("preserve")),
    target: Number($("target").value),
  };
}

async function runEdit() {
  if (!state.z) return;
  const body = editRequest();
  if (!body.attribute.length) {
    showError(new Error("choose at least one attribute to edit"));
    return;
  }
  const seq = ++state.editSeq;
  const img = $("edited");
  img.dataset.state = "loading";
  try {
    const response = await postJson(withModel("edit/latent"), body);
    const blob = await response.blob();
    if (seq !== state.editSeq) return; // a newer slider position is on its way
    showBlob(img, blob);
    await img.decode().catch(() => {});
    img.dataset.delta = body.delta[0];
    img.dataset.state = "done";
    $("edit-info").textContent = response.headers.get("X-Delta-Used") || "";
    $("probabilities").textContent =
      "P before: " + (response.headers.get("X-Probabilities-Before") || "") +
      " · after: " + (response.headers.get("X-Probabilities-After") || "");
    showError(null);
  } catch (err) {
    if (seq === state.editSeq) img.dataset.state = "error";
    showError(err);
  }
}

// ---------------------------------------------------------------- face boxes (POST /faces, when the server has it)
function clearFaces() {
  const canvas = $("faces");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  $("faces-note").textContent = "";
}

function boxOf(face) {
  const b = face.box || face.bbox || face;
  if (Array.isArray(b) && b.length === 4) return { x: b[0], y: b[1], w: b[2] - b[0], h: b[3] - b[1] };
  if ("width" in b) return { x: b.x ?? b.left, y: b.y ?? b.top, w: b.width, h: b.height };
  if ("x0" in b) return { x: b.x0, y: b.y0, w: b.x1 - b.x0, h: b.y1 - b.y0 };
  if ("left" in b) return { x: b.left, y: b.top, w: b.right - b.left, h: b.bottom - b.top };
  return null;
}

async function detectFaces(blob) {
  const img = $("original");
  const seq = (state.facesSeq = (state.facesSeq || 0) + 1); // a late answer for an older image is dropped
  $("faces-note").textContent = "";
  try {
    let response;
    try {
      response = await call(withModel("faces"), { method: "POST", headers: headers(), body: formOf(blob) });
    } catch (err) {
      if (err.code === "face_detection_unavailable") return; // this server runs without face detection
      throw err;
    }
    const body = await response.json();
    const faces = Array.isArray(body) ? body : body.faces || [];
    await img.decode().catch(() => {});
    if (seq !== state.facesSeq) return;
    drawFaces(faces, img.naturalWidth, img.naturalHeight);
    $("faces-note").textContent = `(${faces.length} face${faces.length === 1 ? "" : "s"})`;
  } catch (err) {
    if (seq !== state.facesSeq) return;
    $("faces-note").textContent = `(faces: ${err.message})`; // e.g. the server's "no face found"
  }
}

function drawFaces(faces, width, height) {
  const canvas = $("faces");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.lineWidth = Math.max(2, width / 150);
  ctx.strokeStyle = "#00e676";
  for (const face of faces) {
    const box = boxOf(face);
    if (box) ctx.strokeRect(box.x, box.y, box.w, box.h);
  }
}

// ---------------------------------------------------------------- generation
async function generate() {
  const params = new URLSearchParams();
  for (const select of $("gen-attributes").querySelectorAll("select")) {
    if (select.value === "present") params.append("attribute", select.dataset.attribute);
    if (select.value === "absent") params.append("absent", select.dataset.attribute);
  }
  const seed = $("seed").value.trim();
  if (seed) params.set("seed", seed);
  params.set("n", $("count").value);
  const img = $("generated");
  img.dataset.state = "loading";
  try {
    const response = await call(withModel("generate", params), { headers: headers() });
    showBlob(img, await response.blob());
    img.dataset.state = "done";
    const used = response.headers.get("X-Seed");
    $("gen-info").textContent = `seed ${used} · prior ${response.headers.get("X-Prior") || "?"}`;
    showError(null);
  } catch (err) {
    img.dataset.state = "error";
    showError(err);
  }
}

// ---------------------------------------------------------------- wiring
function init() {
  $("api-key").value = localStorage.getItem(KEY_STORE) || "";
  let usedKey = $("api-key").value.trim();
  $("api-key").addEventListener("change", () => {
    const key = $("api-key").value.trim();
    if (key === usedKey) return; // a second change event (blur) for the same key
    usedKey = key;
    localStorage.setItem(KEY_STORE, key);
    loadModels();
  });
  $("model").addEventListener("change", () => {
    state.model = state.models.find((m) => m.name === $("model").value);
    renderModel();
    if (state.image) encodeImage();
  });
  $("file").addEventListener("change", () => {
    const file = $("file").files[0];
    if (file) useImage(file);
  });
  $("delta").addEventListener("input", scheduleEdit);
  $("target").addEventListener("input", scheduleEdit);
  $("auto").addEventListener("change", scheduleEdit);
  $("generate").addEventListener("click", generate);
  loadModels();
  loadSamples();
}

document.addEventListener("DOMContentLoaded", init);
