// The live view: polls /ui/api/state with the bearer token and draws what it gets. The token
// comes from the link `strom serve` prints (#token=..., never sent to the server as part of
// the URL) or from the form, and is kept in this tab's sessionStorage only.
"use strict";

const POLL_MS = 1000;
let previous = null;

function token() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem("strom-token", decodeURIComponent(match[1]));
    const rest = location.hash.slice(1).split("&").filter((p) => !p.startsWith("token="));
    history.replaceState(null, "", location.pathname + (rest.length ? `#${rest.join("&")}` : ""));
  }
  return sessionStorage.getItem("strom-token") || "";
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function fill(id, rows, empty) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(empty, "empty");
    td.colSpan = document.querySelectorAll(`#${id} th`).length;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const cells of rows) {
    const tr = document.createElement("tr");
    tr.append(...cells);
    body.append(tr);
  }
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString();
}

function bytes(n) {
  if (!n) return "0";
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

function selectors(w) {
  return [w.labelSelector, w.fieldSelector].filter(Boolean).join(" ; ") || "-";
}

function hashParam(name) {
  const match = location.hash.match(new RegExp(`${name}=([^&]+)`));
  return match ? decodeURIComponent(match[1]) : "";
}

let streaming = 0; // the watch whose stream is shown (its id)
const asked = hashParam("stream"); // a link may open one watch's stream at once
const streamSeconds = Number(hashParam("streamSeconds")) || 300;

// A watch's stream: the page opens a watch of its own on the same resource, namespace and
// selectors, and shows each event as it arrives (the newest first).
async function openStream(w) {
  streaming = w.id;
  const panel = document.getElementById("stream");
  panel.hidden = false;
  document.getElementById("stream-title").textContent =
    `Stream of ${w.resource} in ${w.namespace || "all namespaces"} (as ${w.user} watches it)`;
  const body = document.querySelector("#stream-events tbody");
  body.replaceChildren();
  const params = new URLSearchParams({ watch: "true", timeoutSeconds: String(streamSeconds) });
  if (w.labelSelector) params.set("labelSelector", w.labelSelector);
  if (w.fieldSelector) params.set("fieldSelector", w.fieldSelector);
  const reply = await fetch(`${w.path}?${params}`, {
    headers: { Authorization: `Bearer ${token()}` },
  });
  const reader = reply.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done || streaming !== w.id) break;
    pending += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (!line.trim()) continue;
      const event = JSON.parse(line);
      const meta = (event.object && event.object.metadata) || {};
      const tr = document.createElement("tr");
      tr.append(cell(clock(Date.now() / 1000)), cell(event.type), cell(meta.name || "-"),
        cell(meta.resourceVersion || "-"));
      body.prepend(tr);
    }
  }
}

function draw(state) {
  fill("watches", state.watches.map((w) => [
    cell(w.user), cell(w.resource), cell(w.namespace || "(all)"), cell(selectors(w)),
    cell(clock(w.opened)), cell(String(w.events), "num"), cell(bytes(w.queuedBytes), "num"),
    cell(w.lagSeconds ? `${w.lagSeconds.toFixed(1)}s` : "-", "num"), cell(w.bookmarks ? "yes" : "no"),
  ]), "no open watches");
  document.querySelectorAll("#watches tbody tr").forEach((tr, i) => {
    const w = state.watches[i];
    if (!w) return;
    tr.dataset.id = String(w.id);
    tr.addEventListener("click", () => openStream(w));
  });
  if (asked && !streaming) {
    const w = state.watches.find((x) => String(x.id) === asked);
    if (w) openStream(w);
  }
  fill("ended", state.ended.map((w) => [
    cell(w.user), cell(w.resource), cell(w.namespace || "(all)"), cell(String(w.events), "num"),
    cell(clock(w.ended)), cell(w.reason),
  ]), "none yet");
  fill("writes", state.writes.map((w) => [
    cell(clock(w.time)), cell(w.verb), cell(w.resource), cell(w.namespace || "-"),
    cell(w.name || "-"), cell(w.user), cell(String(w.code), "num"),
  ]), "none yet");
  const rates = [];
  if (previous) {
    const dt = Math.max(state.now - previous.now, 0.001);
    for (const [resource, sent] of Object.entries(state.eventsSent)) {
      const rate = (sent - (previous.eventsSent[resource] || 0)) / dt;
      if (rate > 0) rates.push([resource, rate]);
    }
  }
  rates.sort((a, b) => b[1] - a[1]);
  const top = rates.length ? rates[0][1] : 1;
  fill("rates", rates.map(([resource, rate]) => {
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.round((200 * rate) / top)}px`;
    const td = document.createElement("td");
    td.append(bar);
    return [cell(resource), cell(rate.toFixed(1), "num"), td];
  }), "no events in the last second");
  previous = state;
}

async function poll() {
  const bearer = token();
  if (!bearer) {
    document.getElementById("login").style.display = "block";
    document.getElementById("status").textContent = "paste a bearer token to see the server";
    return;
  }
  try {
    const reply = await fetch("/ui/api/state", { headers: { Authorization: `Bearer ${bearer}` } });
    if (reply.status === 401 || reply.status === 403) {
      const status = await reply.json();
      sessionStorage.removeItem("strom-token");
      document.getElementById("error").textContent = `${reply.status}: ${status.message}`;
      document.getElementById("login").style.display = "block";
      document.getElementById("status").textContent = "";
      return;
    }
    const state = await reply.json();
    document.getElementById("error").textContent = "";
    document.getElementById("status").textContent =
      `${state.watches.length} open watches, updated ${clock(state.now)}`;
    draw(state);
  } catch (err) {
    document.getElementById("error").textContent = `server unreachable: ${err}`;
  }
  setTimeout(poll, POLL_MS);
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("strom-token", document.getElementById("token").value.trim());
  document.getElementById("login").style.display = "none";
  poll();
});
poll();
