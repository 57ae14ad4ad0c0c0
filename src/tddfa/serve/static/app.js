// The page: one POST /v1/analyze per image (result JSON, overlays, GLB, timing); PLY/OBJ downloads re-send
// the image to POST /v1/mesh, as the server keeps nothing.
const KINDS = { "2d_sparse": "2D sparse", "2d_dense": "2D dense", "3d": "3D", depth: "depth", pncc: "PNCC", pose: "pose" };
const $ = (id) => document.getElementById(id);
let current = null; // {blob, name, images, kind}
const urls = [];

function setStatus(text, error = false) {
  $("message").textContent = text;
  $("message").classList.toggle("error", error);
}

function showKind(kind) {
  current.kind = kind;
  $("overlay").src = current.images[kind];
  for (const b of $("kinds").children) b.classList.toggle("active", b.dataset.kind === kind);
}

function row(table, cells) {
  const tr = table.insertRow();
  cells.forEach((c, i) => { const td = tr.insertCell(); td.textContent = c; if (i) td.className = "num"; });
}

function objectURL(blob) { const u = URL.createObjectURL(blob); urls.push(u); return u; }

async function analyze(blob, name) {
  setStatus(`Aligning ${name} ...`);
  const form = new FormData();
  form.append("file", blob, name);
  let res;
  try {
    res = await fetch("/v1/analyze", { method: "POST", body: form });
  } catch (e) {
    setStatus(`The server cannot be reached: ${e}`, true);
    return;
  }
  const body = await res.json();
  if (!res.ok) { setStatus(`${name}: ${body.detail} (${res.status} ${body.error})`, true); return; }
  while (urls.length) URL.revokeObjectURL(urls.pop());
  current = { blob, name, images: body.images, kind: current ? current.kind : "2d_sparse" };
  const n = body.result.faces.length;
  setStatus(`${name}: ${n} face${n === 1 ? "" : "s"} (${body.timing.total.toFixed(0)} ms on the server)`);
  $("results").hidden = false;
  showKind(current.kind in KINDS ? current.kind : "2d_sparse");
  const glb = Uint8Array.from(atob(body.glb), (c) => c.charCodeAt(0));
  const glbUrl = objectURL(new Blob([glb], { type: "model/gltf-binary" }));
  $("viewer").src = glbUrl;
  $("dl-glb").href = glbUrl;
  $("dl-json").href = objectURL(new Blob([JSON.stringify(body.result, null, 1)], { type: "application/json" }));
  $("timing").replaceChildren();
  for (const [k, v] of Object.entries(body.timing)) row($("timing"), [k, v.toFixed(1)]);
  $("faces").replaceChildren();
  row($("faces"), ["#", "yaw", "pitch", "roll"]);
  body.result.faces.forEach((f, i) => row($("faces"), [String(i + 1), ...["yaw", "pitch", "roll"].map((k) => f.pose[k].toFixed(1))]));
}

// the mesh as the CLI writes it uses a grey, metallic-by-default material; show the texture as it is
$("viewer").addEventListener("load", () => {
  for (const m of $("viewer").model.materials) {
    m.pbrMetallicRoughness.setMetallicFactor(0);
    m.pbrMetallicRoughness.setRoughnessFactor(1);
    m.pbrMetallicRoughness.setBaseColorFactor([1, 1, 1, 1]);
  }
});

async function downloadMesh(format) {
  if (!current) return;
  const form = new FormData();
  form.append("file", current.blob, current.name);
  setStatus(`Building the ${format.toUpperCase()} mesh ...`);
  const res = await fetch(`/v1/mesh?format=${format}`, { method: "POST", body: form });
  if (!res.ok) { const b = await res.json(); setStatus(`${b.detail} (${res.status})`, true); return; }
  const a = document.createElement("a");
  a.href = objectURL(await res.blob());
  a.download = format === "obj" ? "face_obj.zip" : `face.${format}`;
  a.click();
  setStatus(`Downloaded the ${format.toUpperCase()} mesh.`);
}

for (const [kind, label] of Object.entries(KINDS)) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = label; b.dataset.kind = kind; b.setAttribute("role", "tab");
  b.addEventListener("click", () => current && showKind(kind));
  $("kinds").append(b);
}
for (const b of document.querySelectorAll("[data-mesh]")) b.addEventListener("click", () => downloadMesh(b.dataset.mesh));

$("file").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) analyze(f, f.name); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  const f = e.dataTransfer.files[0]; if (f) analyze(f, f.name);
});

// webcam snapshot (browsers allow the camera on http://127.0.0.1 and localhost)
let stream = null;
$("webcam-start").addEventListener("click", async () => {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: true });
  } catch (e) { setStatus(`No webcam: ${e.message}`, true); return; }
  $("video").srcObject = stream;
  $("webcam").hidden = false;
});
function stopWebcam() { if (stream) stream.getTracks().forEach((t) => t.stop()); stream = null; $("webcam").hidden = true; }
$("webcam-stop").addEventListener("click", stopWebcam);
$("snap").addEventListener("click", () => {
  const v = $("video"), c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  c.getContext("2d").drawImage(v, 0, 0);
  c.toBlob((blob) => analyze(blob, "webcam.jpg"), "image/jpeg", 0.92);
});
