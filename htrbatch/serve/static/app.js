// htrbatch upload page: plain JS, no dependencies. Uploads each file to /api/transcribe,
// then shows every page with its line boxes over the image and the text beside it.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";
const PARALLEL = 2; // files uploaded at once
const queue = [];
let running = 0;

function token() {
  return $("#token").value.trim();
}

function authHeaders() {
  const t = token();
  return t ? { Authorization: "Bearer " + t } : {};
}

async function checkServer() {
  try {
    const r = await fetch("/health", { headers: authHeaders() });
    if (r.status === 401) {
      $("#token-row").hidden = false;
      $("#server").textContent = "this server needs a token";
      return;
    }
    const h = await r.json();
    const decoder = h.decoder === "beam" && h.lm ? "beam search + language model" : h.decoder;
    const model = h.model === "default" ? "shipped model" : `model ${h.model}`;
    $("#server").textContent = `${model} · ${decoder} · ${h.device}`;
  } catch (e) {
    $("#server").textContent = "server not reachable";
  }
}

function threshold() {
  const v = parseFloat($("#threshold").value);
  return Number.isFinite(v) ? v : 0.7;
}

function addFiles(files) {
  for (const file of files) {
    const card = $("#file-card").content.firstElementChild.cloneNode(true);
    $(".name", card).textContent = file.name;
    $(".status", card).textContent = "waiting";
    $("#results").prepend(card);
    queue.push({ file, card });
  }
  pump();
}

function pump() {
  while (running < PARALLEL && queue.length) {
    const job = queue.shift();
    running++;
    upload(job).finally(() => {
      running--;
      pump();
    });
  }
}

function upload({ file, card }) {
  return new Promise((resolve) => {
    const status = $(".status", card);
    const bar = $("progress", card);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/transcribe?preview=true");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        bar.value = (100 * e.loaded) / e.total;
        status.textContent = `uploading ${Math.round(bar.value)} %`;
      }
    };
    xhr.upload.onload = () => {
      bar.removeAttribute("value"); // indeterminate while the server reads
      status.textContent = "reading the handwriting…";
    };
    xhr.onload = () => {
      const body = xhr.response || {};
      if (xhr.status === 200) {
        card.classList.add("done");
        const n = body.pages.length;
        const lines = body.pages.reduce((s, p) => s + p.lines.length, 0);
        status.textContent = `${n} page${n === 1 ? "" : "s"}, ${lines} line${lines === 1 ? "" : "s"}`;
        body.pages.forEach((page, i) => showPage(card, page, (body.views || [])[i] || {}));
        resolve();
      } else if (xhr.status === 503) {
        const wait = parseInt(xhr.getResponseHeader("Retry-After") || "2", 10);
        status.textContent = `server busy, trying again in ${wait} s`;
        setTimeout(() => upload({ file, card }).then(resolve), wait * 1000);
      } else {
        if (xhr.status === 401) $("#token-row").hidden = false;
        fail(card, body.error || `HTTP ${xhr.status}`);
        resolve();
      }
    };
    xhr.onerror = () => {
      fail(card, "the upload failed (connection lost or refused)");
      resolve();
    };
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

function fail(card, message) {
  card.classList.add("failed");
  $(".status", card).textContent = message;
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function showPage(card, page, view) {
  const el = $("#page-view").content.firstElementChild.cloneNode(true);
  const name = view.name || page.source.replace(/\.[^.]*$/, "");
  $("h3", el).textContent =
    (page.page ? `page ${page.page} · ` : "") + `${page.width}×${page.height} px`;
  const img = $("img", el);
  const svg = $("svg", el);
  svg.setAttribute("viewBox", `0 0 ${page.width} ${page.height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  if (view.image) img.src = view.image;
  const list = $(".lines", el);
  const rects = [];
  const items = [];
  page.lines.forEach((line, i) => {
    const [x0, y0, x1, y1] = line.bbox;
    const r = document.createElementNS(SVG, "rect");
    r.setAttribute("x", x0);
    r.setAttribute("y", y0);
    r.setAttribute("width", x1 - x0);
    r.setAttribute("height", y1 - y0);
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${i + 1}: ${line.text}`;
    r.append(title);
    svg.append(r);
    const li = document.createElement("li");
    li.append(line.text || "\u00a0");
    const conf = document.createElement("span");
    conf.className = "conf";
    conf.textContent = `${Math.round(line.confidence * 100)} %`;
    li.append(conf);
    list.append(li);
    rects.push(r);
    items.push(li);
    const select = () => {
      rects.forEach((x) => x.classList.remove("sel"));
      items.forEach((x) => x.classList.remove("sel"));
      r.classList.add("sel");
      li.classList.add("sel");
      showDetail(el, img, page, line, i);
    };
    r.addEventListener("click", select);
    li.addEventListener("click", select);
  });
  const mark = () => {
    const t = threshold();
    page.lines.forEach((line, i) => {
      const low = line.confidence < t;
      rects[i].classList.toggle("low", low);
      items[i].classList.toggle("low", low);
      items[i].title = low ? "low confidence" : "";
    });
  };
  mark();
  $("#threshold").addEventListener("input", mark);
  $(".dl[data-format=txt]", el).addEventListener("click", () =>
    download(`${name}.txt`, page.text + (page.lines.length ? "\n" : ""), "text/plain")
  );
  $(".dl[data-format=json]", el).addEventListener("click", () =>
    download(`${name}.json`, JSON.stringify(page, null, 1) + "\n", "application/json")
  );
  $(".pages", card).append(el);
}

function showDetail(el, img, page, line, i) {
  const box = $(".detail", el);
  box.hidden = false;
  $(".detail-text", box).textContent = `${i + 1}. ${line.text}`;
  $(".detail-conf", box).textContent =
    `confidence ${line.confidence.toFixed(2)}` +
    (line.confidence < threshold() ? " (low)" : "") +
    ` · box ${line.bbox.join(", ")}`;
  const canvas = $("canvas", box);
  if (!img.naturalWidth) return;
  const s = img.naturalWidth / page.width;
  const [x0, y0, x1, y1] = line.bbox;
  const w = (x1 - x0) * s;
  const h = (y1 - y0) * s;
  const zoom = Math.min(2, 520 / Math.max(w, 1));
  canvas.width = Math.max(1, Math.round(w * zoom));
  canvas.height = Math.max(1, Math.round(h * zoom));
  canvas.getContext("2d").drawImage(img, x0 * s, y0 * s, w, h, 0, 0, canvas.width, canvas.height);
}

function setup() {
  const drop = $("#drop");
  const input = $("#files");
  input.addEventListener("change", () => {
    addFiles([...input.files]);
    input.value = "";
  });
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    addFiles([...e.dataTransfer.files]);
  });
  const saved = sessionStorage.getItem("htrbatch-token");
  if (saved) $("#token").value = saved;
  $("#token").addEventListener("change", () => {
    sessionStorage.setItem("htrbatch-token", token());
    checkServer();
  });
  checkServer();
}

setup();
