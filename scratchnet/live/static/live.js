// The live page: polls /api/stats about once a second (never a second request while one is
// still out, so a slow connection drops frames instead of queueing them), draws the numbers,
// the loss graph (SVG), the layers and test images (PNGs from the server) and the confusion
// matrix, and sends the controls with the token in a header.
"use strict";

const TOKEN = new URLSearchParams(window.location.search).get("token") || "";
const POLL_MS = 1000;
let lastVersion = -1;
let paused = false;
let settingsShown = false;

function $(id) { return document.getElementById(id); }

function fmt(x, digits) {
  return (x === null || x === undefined) ? "\u2013" : x.toFixed(digits);
}

function pct(x) { return (x === null || x === undefined) ? "\u2013" : (100 * x).toFixed(1) + "%"; }

function imageUrl(kind, i, version) {
  return "/api/image/" + kind + ".png?token=" + encodeURIComponent(TOKEN) + "&i=" + i +
    "&v=" + version;
}

function showMessage(text, isError) {
  const m = $("message");
  m.textContent = text || "";
  m.className = "message" + (isError ? " error" : "");
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function drawGraph(points) {
  const svg = $("loss-graph");
  const W = 600, H = 220, L = 50, R = 10, T = 10, B = 30;
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const ns = "http://www.w3.org/2000/svg";
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  add("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis"});
  add("line", {x1: L, y1: T, x2: L, y2: H - B, class: "axis"});
  const pts = points.filter(p => p[1] !== null);
  if (pts.length < 2) { add("text", {x: L + 10, y: H / 2}, "waiting for training\u2026"); return; }
  const x0 = pts[0][0], x1 = pts[pts.length - 1][0];
  let y1 = Math.max(...pts.map(p => p[1])), y0 = Math.min(0, ...pts.map(p => p[1]));
  if (y1 <= y0) y1 = y0 + 1;
  const sx = x => L + (W - L - R) * (x - x0) / Math.max(1, x1 - x0);
  const sy = y => H - B - (H - T - B) * (y - y0) / (y1 - y0);
  const coords = pts.map(p => sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1));
  add("polyline", {points: coords.join(" ")});
  add("text", {x: L - 5, y: T + 10, "text-anchor": "end"}, y1.toFixed(2));
  add("text", {x: L - 5, y: H - B, "text-anchor": "end"}, y0.toFixed(2));
  add("text", {x: L, y: H - 8}, x0.toLocaleString());
  add("text", {x: W - R, y: H - 8, "text-anchor": "end"}, x1.toLocaleString() + " examples");
}

function drawLayers(s) {
  const table = $("layers");
  if (table.rows.length !== s.layers.length) {
    while (table.firstChild) table.removeChild(table.firstChild);
    s.layers.forEach((layer, i) => {
      const row = table.insertRow();
      const name = row.insertCell();
      name.className = "name";
      name.appendChild(el("div", layer.name + " " + layer.kind));
      name.appendChild(el("div", "", "note shape"));
      const act = row.insertCell();
      const ai = el("img"); ai.alt = "activations of " + layer.name; ai.className = "act";
      act.appendChild(ai);
      const filt = row.insertCell();
      if (layer.filters) {
        const fi = el("img"); fi.alt = "weights of " + layer.name; fi.className = "filters";
        filt.appendChild(el("div", "weights " + layer.filters.join("\u00d7"), "note"));
        filt.appendChild(fi);
      }
    });
  }
  s.layers.forEach((layer, i) => {
    const row = table.rows[i];
    row.querySelector(".shape").textContent = "out " + layer.shape.join("\u00d7") +
      ", range " + fmt(layer.range[0], 2) + " .. " + fmt(layer.range[1], 2);
    row.querySelector("img.act").src = imageUrl("act", i, s.version);
    const f = row.querySelector("img.filters");
    if (f) f.src = imageUrl("filters", i, s.version);
  });
}

function drawTests(s) {
  // the elements are made once and updated in place: a new src keeps the old picture on
  // screen until the new one has arrived, so the images never blink
  const box = $("tests");
  if (box.children.length !== s.tests.length) {
    while (box.firstChild) box.removeChild(box.firstChild);
    s.tests.forEach((t, i) => {
      const d = el("div", null, "test");
      const img = el("img"); img.alt = "test image " + i;
      d.appendChild(img);
      d.appendChild(el("div", "", "truth"));
      for (let k = 0; k < 3; k++) {
        const row = el("div", null, "guess");
        row.appendChild(el("div", null, "bar"));
        row.appendChild(el("span", ""));
        d.appendChild(row);
      }
      box.appendChild(d);
    });
  }
  s.tests.forEach((t, i) => {
    const d = box.children[i];
    d.className = "test" + (t.correct ? "" : " wrong");
    d.querySelector("img").src = imageUrl("test", i, s.version);
    d.querySelector(".truth").textContent = "true: " + t.label;
    const rows = d.querySelectorAll(".guess");
    rows.forEach((row, k) => {
      const g = t.guesses[k];
      row.style.visibility = g ? "visible" : "hidden";
      if (!g) return;
      row.querySelector(".bar").style.width = Math.max(1, Math.round(70 * g[1])) + "px";
      row.querySelector("span").textContent = g[0] + " " + (100 * g[1]).toFixed(0) + "%";
    });
  });
}

function drawConfusion(s) {
  const table = $("confusion");
  while (table.firstChild) table.removeChild(table.firstChild);
  const head = table.insertRow();
  head.appendChild(el("th", ""));
  s.classes.forEach(c => head.appendChild(el("th", c)));
  s.confusion.forEach((row, i) => {
    const tr = table.insertRow();
    tr.appendChild(el("th", s.classes[i]));
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((n, j) => {
      const td = el("td", String(n));
      const share = n / total;
      td.style.background = (i === j ? "rgba(40,140,60," : "rgba(200,50,50,") +
        Math.min(1, share * 1.2).toFixed(2) + ")";
      if (share > 0.5) td.style.color = "#fff";
      tr.appendChild(td);
    });
  });
}

function showSettings(settings) {
  for (const k of ["lr", "momentum", "batch_size", "weight_decay"]) $(k).value = settings[k];
  $("optimizer").value = settings.optimizer;
}

function render(s) {
  $("model").textContent = "\u2014 " + s.model + " (" + s.parameters.toLocaleString() +
    " parameters) on " + s.data;
  $("data-note").textContent = s.data_note;
  $("fwd-ms").textContent = fmt(s.forward_ms_per_example, 2);
  $("bwd-ms").textContent = fmt(s.backward_ms_per_example, 2);
  $("slide-fwd").textContent = s.slide_ms.forward;
  $("slide-bwd").textContent = s.slide_ms.backward;
  $("loss").textContent = fmt(s.classification_loss, 4);
  $("l2-loss").textContent = fmt(s.l2_weight_decay_loss, 5);
  $("train-acc").textContent = pct(s.train_accuracy);
  $("val-acc").textContent = pct(s.val_accuracy);
  $("val-n").textContent = "last " + s.val_examples + " test examples";
  $("examples-seen").textContent = String(s.examples_seen);
  $("steps").textContent = s.steps + " batches of " + s.settings.batch_size;
  paused = s.paused;
  $("pause").textContent = paused ? "Resume" : "Pause";
  $("status").textContent = paused ? "paused" : "training";
  if (s.error) showMessage(s.error, true);
  if (!settingsShown) { showSettings(s.settings); settingsShown = true; }
  drawGraph(s.loss_graph);
  $("current-label").textContent = "(label: " + s.current_label + ")";
  $("input-image").src = imageUrl("input", 0, s.version);
  drawLayers(s);
  drawTests(s);
  drawConfusion(s);
}

async function poll() {
  try {
    const r = await fetch("/api/stats?token=" + encodeURIComponent(TOKEN), {cache: "no-store"});
    const s = await r.json();
    if (!r.ok) {
      $("status").textContent = s.error || ("error " + r.status);
    } else if (s.version !== lastVersion) {
      lastVersion = s.version;
      render(s);
    }
  } catch (e) {
    $("status").textContent = "the server does not answer (stopped?)";
  }
  window.setTimeout(poll, POLL_MS);
}

async function send(action, values) {
  try {
    const r = await fetch("/api/control", {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-Scratchnet-Token": TOKEN},
      body: JSON.stringify(values ? {action: action, values: values} : {action: action}),
    });
    const reply = await r.json();
    if (!r.ok) { showMessage(reply.error || ("error " + r.status), true); return; }
    showMessage(reply.message, false);
    paused = reply.paused;
    $("pause").textContent = paused ? "Resume" : "Pause";
    $("status").textContent = paused ? "paused" : "training";
    showSettings(reply.settings);
  } catch (e) {
    showMessage("the server does not answer (stopped?)", true);
  }
}

function start() {
  $("pause").addEventListener("click", () => send(paused ? "resume" : "pause"));
  $("save").addEventListener("click", () => send("save"));
  $("load").addEventListener("click", () => send("load"));
  $("optimizer").addEventListener("change", () => {
    // a new optimizer starts from its own usual learning rate unless one is typed after
    send("set", {optimizer: $("optimizer").value});
  });
  $("settings").addEventListener("submit", ev => {
    ev.preventDefault();
    const values = {};
    for (const k of ["lr", "momentum", "batch_size", "weight_decay"]) values[k] = $(k).value.trim();
    values.optimizer = $("optimizer").value;
    send("set", values);
  });
  if (!TOKEN) {
    showMessage("this address has no ?token=...: open the URL that scratchnet live printed",
                true);
  }
  poll();
}

document.addEventListener("DOMContentLoaded", start);
