// The console's only script: confirmations for destructive forms and the live view.
"use strict";

document.addEventListener("submit", (e) => {
  const question = e.target.dataset && e.target.dataset.confirm;
  if (question && !window.confirm(question)) e.preventDefault();
});

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;  // text only: never markup
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function block(title, value, part) {
  const section = el("div");
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  section.append(el("h3", title), el("pre", text, { class: part }));
  return section;
}

function render(r) {
  const item = el("li", undefined, { class: "record", "data-outcome": r.outcome });
  const when = new Date(r.at * 1000).toLocaleTimeString();
  const route = r.destination ? `${r.source} → ${r.destination}` : r.source;
  const status = r.status ? ` HTTP ${r.status}` : "";
  const what = r.event ? `${r.type} ${r.event}` : r.type;
  item.append(el("p", `${when} ${r.outcome}${status} · ${route} · user ${r.user} · ${what}`, { class: "summary" }));
  if (r.reason) item.append(el("p", `reason: ${r.reason}`, { class: "reason" }));
  const prettyView = el("details");
  prettyView.append(el("summary", "details"));
  if (r.payload) prettyView.append(block("event", r.payload, "event"));
  for (const q of r.requests || []) prettyView.append(block(`request: ${q.method} ${q.url}`, q, "request"));
  if (r.kind === "delivery") prettyView.append(block("response", r.response || "(none)", "response"));
  const raw = el("details");
  raw.append(el("summary", "raw JSON"), el("pre", JSON.stringify(r, null, 2), { class: "raw" }));
  item.append(prettyView, raw);
  return item;
}

function live() {
  const list = document.getElementById("records");
  if (!list) return;
  const form = document.getElementById("live-filter");
  const pause = document.getElementById("pause");
  const state = document.getElementById("live-state");
  let source = null;
  let paused = false;
  let held = [];

  function show(record) {
    list.prepend(render(record));
    while (list.children.length > 500) list.lastChild.remove();
  }

  function connect() {
    if (source) source.close();
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
    source = new EventSource(`/admin/stream?${params}`);
    state.textContent = "connecting…";
    source.onopen = () => { state.textContent = paused ? "paused" : "live"; };
    source.onerror = () => { state.textContent = "disconnected, retrying…"; };
    source.onmessage = (m) => {
      const record = JSON.parse(m.data);
      if (paused) { held.push(record); state.textContent = `paused (${held.length} waiting)`; }
      else show(record);
    };
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); list.replaceChildren(); connect(); });
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (!paused) { held.forEach(show); held = []; }
    state.textContent = paused ? "paused" : "live";
  });
  connect();
}

document.addEventListener("DOMContentLoaded", live);
