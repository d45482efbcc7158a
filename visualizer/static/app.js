// berth visualizer: renders the model the server pushes over
// Server-Sent Events (/api/events). No polling: the server follows the
// engine's events and sends a new model on every change.
"use strict";

const $ = (id) => document.getElementById(id);
let model = null;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// State kinds: the word is always shown; the mark and colour repeat it.
function stateKind(s) {
  switch (s) {
    case "running": return ["ok", "●"];
    case "new": case "pending": case "assigned": case "accepted": case "ready":
    case "preparing": case "starting": case "created": case "restarting": return ["pending", "◌"];
    case "failed": case "rejected": case "orphaned": case "dead": return ["bad", "✖"];
    case "paused": return ["pending", "‖"];
    default: return ["done", "■"]; // complete, shutdown, remove, exited
  }
}

function bytes(n) {
  if (!n) return "0 B";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function cpus(nano) {
  const c = nano / 1e9;
  return +c.toFixed(2) + (c === 1 ? " CPU" : " CPUs");
}

function ago(iso) {
  const t = Date.parse(iso);
  if (!t || t < 0) return "";
  let s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  return Math.floor(s / 86400) + "d";
}

function renderTask(t, node, colors) {
  const li = el("li", "task");
  li.dataset.task = t.id;
  li.dataset.service = t.service;
  li.dataset.state = t.state;
  li.style.setProperty("--svc", colors[t.service] || "#888");
  li.append(el("div", "name", t.name));
  li.append(el("div", "image", t.image));
  const st = el("div", "st");
  const [kind, mark] = stateKind(t.state);
  st.append(el("span", "state " + kind, mark + " " + t.state));
  const since = ago(t.since);
  if (since) {
    const s = el("span", "since", " for " + since);
    s.dataset.since = t.since;
    st.append(s);
  }
  if (t.desired && t.desired !== "running" && t.desired !== t.state) st.append(el("span", "", " → " + t.desired));
  li.append(st);
  const lim = [];
  if (t.limits.nanoCPUs) lim.push(cpus(t.limits.nanoCPUs));
  if (t.limits.memoryBytes) lim.push(bytes(t.limits.memoryBytes));
  li.append(el("div", "limits", "Limits: " + (lim.length ? lim.join(" · ") : "none")));
  if (t.usage) {
    li.append(el("div", "usage", "Usage: CPU " + t.usage.cpuPercent.toFixed(1) + "% · mem " + bytes(t.usage.memoryBytes)));
  } else if (!node.local) {
    li.append(el("div", "usage", "Usage: not shown (another node)"));
  }
  if (t.message && kind === "bad") li.append(el("div", "msg", t.message));
  return li;
}

function render(m) {
  model = m;
  const err = $("error");
  if (m.error) {
    err.hidden = false;
    err.textContent = "Cannot read the daemon: " + m.error + (m.stale ? " — showing the last state read." : "") + " Retrying…";
  } else {
    err.hidden = true;
    err.textContent = "";
  }
  const colors = {};
  const sum = $("summary");
  sum.replaceChildren();
  let running = 0, desired = 0;
  for (const s of m.services) {
    colors[s.name] = s.color;
    running += s.running; desired += s.desired;
    const b = el("span", "svc" + (s.running < s.desired ? " short" : ""));
    b.dataset.service = s.name;
    const sw = el("span", "swatch");
    sw.style.background = s.color;
    b.append(sw, el("span", "", s.name + " " + s.running + "/" + s.desired + (s.running < s.desired ? " (short)" : "")));
    sum.append(b);
  }
  if (m.services.length) {
    const n = m.services.length;
    sum.prepend(el("span", "svc total", m.swarm
      ? n + (n === 1 ? " service · " : " services · ") + running + "/" + desired + " tasks running"
      : n + (n === 1 ? " container group · " : " container groups · ") + running + "/" + desired + " running"));
  } else if (!m.error) {
    sum.append(el("span", "empty", m.swarm ? "No services." : "No containers."));
  }
  $("note").textContent = m.usageNote || "";
  const nodes = $("nodes");
  nodes.replaceChildren();
  for (const n of m.nodes) {
    const down = n.state !== "ready";
    const col = el("section", "node" + (down ? " down" : ""));
    col.dataset.node = n.id;
    col.dataset.hostname = n.hostname;
    col.setAttribute("aria-label", "Node " + n.hostname);
    const h = el("h2", "", n.hostname);
    col.append(h);
    const meta = el("p", "meta");
    meta.append(el("span", "", n.role));
    if (n.leader) meta.append(" · ", el("span", "leader", "★ leader"));
    meta.append(" · ", el("span", "node-avail", n.availability));
    meta.append(" · ", el("span", "node-state", down ? n.state.toUpperCase() : n.state));
    meta.append(el("br"), el("span", "", cpus(n.nanoCPUs) + " · " + bytes(n.memoryBytes) + " · " + n.tasks.length + (n.tasks.length === 1 ? " task" : " tasks")));
    col.append(meta);
    const ul = el("ul", "tasks");
    for (const t of n.tasks) ul.append(renderTask(t, n, colors));
    if (!n.tasks.length) ul.append(el("li", "empty", "No tasks."));
    col.append(ul);
    nodes.append(col);
  }
}

// The "for 3m" figures age on their own; the model is not re-fetched.
setInterval(() => {
  for (const s of document.querySelectorAll(".since")) s.textContent = " for " + ago(s.dataset.since);
}, 1000);

function connect() {
  const es = new EventSource("api/events");
  es.addEventListener("model", (e) => {
    $("conn").textContent = "live";
    render(JSON.parse(e.data));
  });
  es.onopen = () => { $("conn").textContent = "live"; };
  es.onerror = () => {
    $("conn").textContent = "connection to the visualizer lost — reconnecting…";
    // EventSource retries by itself unless the server refused outright.
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  };
}
connect();
