// maskfer's page: send the photo to /api/predict, draw each face's box and label, list the bars.
"use strict";
const $ = (id) => document.getElementById(id);
const canvas = $("canvas"), ctx = canvas.getContext("2d");
let photo = null;       // the current photo as a Blob
let requestId = 0;      // answers to an older request are ignored
let live = false;       // webcam frames read continuously
let stream = null;      // while live: this run's stream id, so the server follows its faces (each keeps a track)
const NAMES = { n95: "N95", kn95: "KN95" };  // how mask types are written for people
const display = (kind) => NAMES[kind] || kind;
const count = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function loadMaskTypes() {
  const response = await fetch("/api/version");
  const info = await response.json();
  for (const kind of info.mask_types) {
    const option = document.createElement("option");
    option.value = kind; option.textContent = display(kind);
    $("mask").append(option);
  }
}

function drawImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => {
      canvas.width = img.naturalWidth; canvas.height = img.naturalHeight; ctx.drawImage(img, 0, 0);
      canvas.hidden = false; $("hint").hidden = true; resolve();
    };
    img.onerror = reject;
    img.src = src;
  });
}

// A face's number: its track while live (kept from frame to frame), else its place in the answer.
const faceNumber = (face, i) => (face.track ?? i) + 1;

function drawFaces(faces) {
  const line = Math.max(2, Math.round(canvas.width / 300));
  ctx.lineWidth = line;
  ctx.font = `${Math.max(14, Math.round(canvas.width / 40))}px system-ui, sans-serif`;
  faces.forEach((face, i) => {
    const [x0, y0, x1, y1] = face.box;
    const colour = face.mask_worn ? "#29b6f6" : "#ffb300";
    ctx.strokeStyle = colour;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    const label = face.expression
      ? `${faceNumber(face, i)}. ${face.expression} ${Math.round(100 * face.probabilities[face.expression])}%`
      : `${faceNumber(face, i)}. ${face.status}`;
    const width = ctx.measureText(label).width + 8, height = parseInt(ctx.font) + 6;
    const top = Math.max(0, y0 - height);
    ctx.fillStyle = colour; ctx.fillRect(x0, top, width, height);
    ctx.fillStyle = "#000"; ctx.fillText(label, x0 + 4, top + height - 6);
  });
}

function listFaces(faces) {
  const list = $("faces");
  list.replaceChildren();
  faces.forEach((face, i) => {
    const item = document.createElement("li");
    item.className = "face";
    const title = document.createElement("h2");
    title.textContent = `Face ${faceNumber(face, i)}: ${face.expression ?? face.status}` + (face.mask_worn ? " (mask)" : "");
    const score = document.createElement("p");
    score.className = "face-score";
    score.textContent = `face score ${face.face_score.toFixed(2)}`;
    item.append(title, score);
    for (const [name, p] of Object.entries(face.probabilities ?? {})) {
      const row = document.createElement("div");
      row.className = "bar" + (name === face.expression ? " top" : "");
      const label = document.createElement("span"); label.textContent = name;
      const bar = document.createElement("i"); bar.style.width = `${(100 * p).toFixed(1)}%`;
      const value = document.createElement("b"); value.textContent = `${Math.round(100 * p)}%`;
      row.append(label, bar, value);
      item.append(row);
    }
    list.append(item);
  });
}

async function analyse() {
  if (!photo) return;
  if (live) return readFrame();
  const id = ++requestId;
  const form = new FormData();
  form.append("image", photo, "photo");
  const mask = $("mask").value;
  if (mask !== "none") form.append("mask", mask);
  status("Reading faces…");
  try {
    const response = await fetch("/api/predict", { method: "POST", body: form });
    const answer = await response.json();
    if (id !== requestId) return;
    if (!response.ok) throw new Error(answer.detail || response.statusText);
    await drawImage(answer.image || URL.createObjectURL(photo));
    drawFaces(answer.faces);
    listFaces(answer.faces);
    status(answer.faces.length ? count(answer.faces.length, "face") + (answer.mask_drawn ? `, each behind a mask: ${display(answer.mask_drawn)}` : "")
                               : "No face found in this photo.");
  } catch (error) {
    if (id === requestId) { clearResults(); status(`Error: ${error.message}`, true); }
  }
}

// A failed reading leaves no earlier photo's boxes and bars under its error.
function clearResults() {
  canvas.hidden = true; $("faces").replaceChildren(); $("hint").hidden = false;
}

function usePhoto(blob) { photo = blob; analyse(); }

$("file").addEventListener("change", (e) => { if (e.target.files[0]) usePhoto(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files[0]) usePhoto(e.dataTransfer.files[0]);
});
$("mask").addEventListener("change", analyse);

// The webcam, started once by "Use webcam" or by ticking Live; true when frames are coming.
async function startCamera() {
  const video = $("video");
  if (video.srcObject) return true;
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
    video.hidden = live;
    await video.play();
    $("snap").hidden = false;  // only once frames are there to take
    return true;
  } catch (error) {
    video.srcObject = null;
    status(`Webcam unavailable: ${error.message}`, true);
    return false;
  }
}

$("camera").addEventListener("click", startCamera);
// Live: grab a frame, read it, draw it with its boxes, then the next; one request in flight at a time,
// so the rate follows the server (a few frames a second here). Frames live only in this page's memory.
async function readFrame() {
  if (!live) return;
  const video = $("video"), grab = document.createElement("canvas");
  if (!video.videoWidth) { setTimeout(readFrame, 100); return; }  // the camera has not sent a frame yet
  grab.width = video.videoWidth; grab.height = video.videoHeight;
  grab.getContext("2d").drawImage(video, 0, 0);
  const blob = await new Promise((resolve) => grab.toBlob(resolve, "image/jpeg", 0.85));
  const form = new FormData();
  form.append("image", blob, "frame");
  const mask = $("mask").value;
  if (mask !== "none") form.append("mask", mask);
  form.append("stream", stream);
  form.append("time_s", (performance.now() / 1000).toFixed(3));  // the frame's time: close frames are followed
  if ($("steady").checked) form.append("smooth", "0.6");
  try {
    const response = await fetch("/api/predict", { method: "POST", body: form });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.detail || response.statusText);
    if (!live) return;
    await drawImage(answer.image || grab.toDataURL("image/jpeg"));
    drawFaces(answer.faces);
    listFaces(answer.faces);
    status(`Live: ${count(answer.faces.length, "face")}` + (answer.mask_drawn ? `, each behind a mask: ${display(answer.mask_drawn)}` : ""));
  } catch (error) {
    status(`Live reading stopped: ${error.message}`, true);
    $("live").checked = live = false;
    return;
  }
  setTimeout(readFrame, 50);
}

$("live").addEventListener("change", async (e) => {
  live = e.target.checked;
  if (live && !(await startCamera())) { $("live").checked = live = false; return; }
  $("video").hidden = live;  // while live, the canvas shows the frames with their boxes: one picture, not two
  // Each run of Live is a new stream: its faces are numbered afresh. (Not crypto.randomUUID: a page served over
  // plain http to another machine has no crypto.randomUUID.)
  if (live) stream = `live-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  if (live) readFrame(); else status("Live reading paused.");
});

$("snap").addEventListener("click", () => {
  const video = $("video"), grab = document.createElement("canvas");
  grab.width = video.videoWidth; grab.height = video.videoHeight;
  grab.getContext("2d").drawImage(video, 0, 0);
  grab.toBlob((blob) => usePhoto(blob), "image/jpeg", 0.92);
});

loadMaskTypes().catch((error) => status(`Server unreachable: ${error.message}`, true));
