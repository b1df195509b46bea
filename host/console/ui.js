// The console's building blocks: elements made of text nodes, the admin
// API, the page's state and the hooks views use to navigate.
//
// Everything a sender wrote reaches the page as text: `el()` only ever
// creates text nodes for content, and nothing in the console assigns
// innerHTML. Links are internal (`#/...`); a sender's URLs are shown as
// text to copy, never followed or fetched. The page's CSP allows no inline
// script, so even a mistake here could not run a sender's.

// keepStatus: the next navigation is an action's own, so its message stays.
export const state = { csrf: null, modules: [], live: null, keepStatus: false, ticket: 0, lastList: "#/quarantine" };

let router = () => {};

/** Set what shows the view the address names (console.js does). */
export function setRouter(f) {
  router = f;
}

/** Show the current address's view again (after an action). */
export function rerender() {
  router();
}

/** Go to `hash` (or show it again when there already). */
export function go(hash) {
  if (window.location.hash === hash) {
    state.keepStatus = false;
    router();
  } else window.location.hash = hash;
}

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "href") {
      if (!String(value).startsWith("#")) throw new Error("only internal links");
      node.setAttribute("href", value);
    } else if (key === "value") node.value = value;
    else if (key === "checked") node.checked = true;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function show(...children) {
  const main = document.getElementById("main");
  main.replaceChildren();
  append(main, children);
}

export function say(message, kind = "info") {
  const status = document.getElementById("status");
  status.className = `status ${kind}`;
  status.textContent = message;
}

export function when(ms) {
  if (!ms && ms !== 0) return "";
  const d = new Date(ms);
  return el("time", { datetime: d.toISOString() }, d.toLocaleString());
}

export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2)}`;
  control.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, label), control, hint && el("small", {}, hint));
}

export function select(name, options, value) {
  return el(
    "select",
    { name },
    options.map(([v, text]) => el("option", { value: v, selected: v === (value ?? "") ? true : undefined }, text)),
  );
}

export function dl(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

export function listOf(label, items, render) {
  return [el("h3", {}, `${label} (${items.length})`), items.length ? el("ul", { class: "plain" }, items.map((i) => el("li", {}, render(i)))) : el("p", {}, "None.")];
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-CSRF-Token"] = state.csrf;
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 401) {
    window.location.assign("/console/login");
    throw new Error("not logged in");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

export function showHeld(n) {
  const badge = document.getElementById("held");
  badge.textContent = String(n);
  badge.classList.toggle("none", n === 0);
}

export function moduleOptions() {
  return [["", "any module"], ...state.modules.map((m) => [m.name, m.name])];
}

export function reasons(decision) {
  const list = (decision && decision.reasons) || [];
  if (!list.length) return el("p", {}, "No module gave a reason.");
  return el("ul", { class: "reasons" }, list.map((r) => el("li", {}, r)));
}

export function traceTable(trace) {
  if (!trace || !trace.length) return el("p", {}, "No module ran.");
  return el(
    "div",
    { class: "scroll" },
    el(
      "table",
      {},
      el("caption", {}, "What each module said"),
      el("thead", {}, el("tr", {}, ["Module", "Mode", "Verdict", "Reason", "Points", "Time"].map((h) => el("th", { scope: "col" }, h)))),
      el(
        "tbody",
        {},
        trace.map((t) =>
          el(
            "tr",
            { class: t.verdict === "pass" ? "pass" : "hit" },
            el("th", { scope: "row" }, `${t.module} ${t.version}`),
            el("td", {}, t.mode),
            el("td", {}, t.verdict),
            el("td", {}, t.error ? `${t.error.kind}: ${t.error.message} (${t.error.on_error})` : t.reason || ""),
            el("td", {}, t.points ?? "", t.applied !== undefined ? ` (applied ${t.applied})` : ""),
            el("td", { class: "num" }, `${t.micros} µs`),
          ),
        ),
      ),
    ),
  );
}

/** While an action runs, no button of the page starts another. */
export function busy() {
  for (const b of document.querySelectorAll("main button")) b.disabled = true;
}

export function stopLive() {
  if (state.live) clearInterval(state.live);
  state.live = null;
}
