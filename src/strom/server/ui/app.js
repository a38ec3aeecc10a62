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
    history.replaceState(null, "", location.pathname);
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

function selectors(w) {
  return [w.labelSelector, w.fieldSelector].filter(Boolean).join(" ; ") || "-";
}

function draw(state) {
  fill("watches", state.watches.map((w) => [
    cell(w.user), cell(w.resource), cell(w.namespace || "(all)"), cell(selectors(w)),
    cell(clock(w.opened)), cell(String(w.events), "num"),
  ]), "no open watches");
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
