// The Palisade console: review the quarantine, watch decisions and modules.
//
// Everything a sender wrote reaches the page as text: elements are built
// with `el()`, which only ever creates text nodes for content, and nothing
// here assigns innerHTML. Links are internal (`#/...`); a sender's URLs are
// shown as text to copy, never followed or fetched. The page's CSP allows
// no inline script, so even a mistake here could not run a sender's.

// keepStatus: the next navigation is an action's own, so its message stays.
const state = { csrf: null, modules: [], live: null, keepStatus: false, ticket: 0, lastList: "#/quarantine" };

// ---- building the page ------------------------------------------------

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
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

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function show(...children) {
  const main = document.getElementById("main");
  main.replaceChildren();
  append(main, children);
}

function say(message, kind = "info") {
  const status = document.getElementById("status");
  status.className = `status ${kind}`;
  status.textContent = message;
}

function when(ms) {
  if (!ms && ms !== 0) return "";
  const d = new Date(ms);
  return el("time", { datetime: d.toISOString() }, d.toLocaleString());
}

function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2)}`;
  control.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, label), control, hint && el("small", {}, hint));
}

function select(name, options, value) {
  return el(
    "select",
    { name },
    options.map(([v, text]) => el("option", { value: v, selected: v === (value ?? "") ? true : undefined }, text)),
  );
}

function dl(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

// ---- the admin API ----------------------------------------------------

async function api(path, { method = "GET", body } = {}) {
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

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// ---- routes -----------------------------------------------------------

/** Show the view the address names; `first` on page load, when focus stays
 * at the top of the page (the skip link first), else it moves to the view. */
function route(first = false) {
  const [path, search] = window.location.hash.slice(1).split("?");
  const params = Object.fromEntries(new URLSearchParams(search || ""));
  const parts = (path || "/quarantine").split("/").filter(Boolean);
  stopLive();
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.section === parts[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  // A view renders only while it is the latest one asked for: a slow
  // answer must not replace the page the moderator has moved on to.
  const ticket = ++state.ticket;
  const render = (...children) => {
    if (ticket !== state.ticket) return false;
    show(...children);
    return true;
  };
  const views = {
    quarantine: () => (parts[1] ? entryView(parts[1], render) : quarantineView(params, render)),
    decisions: () => (parts[1] ? decisionView(parts[1], render) : decisionsView(params, render)),
    modules: () => modulesView(render),
    replay: () => replayView(render),
  };
  const view = Object.hasOwn(views, parts[0] ?? "") ? views[parts[0]] : views.quarantine;
  Promise.resolve()
    .then(view)
    .catch((e) => render(el("h1", {}, "Something went wrong"), el("p", { class: "error" }, e.message)));
  refreshHeld();
  if (!first) document.getElementById("main").focus({ preventScroll: true });
}

/** The held count in the navigation, on every page. */
function refreshHeld() {
  api("/admin/v1/quarantine/count")
    .then((c) => showHeld(c.count))
    .catch(() => {});
}

function go(hash) {
  if (window.location.hash === hash) {
    state.keepStatus = false;
    route();
  } else window.location.hash = hash;
}

// ---- quarantine -------------------------------------------------------

const FILTER_KEYS = ["status", "module", "actor_host", "after", "before", "text"];

function filterFrom(params) {
  const f = {};
  for (const k of FILTER_KEYS) if (params[k]) f[k] = params[k];
  if (f.status === undefined) f.status = "held";
  if (f.status === "any") delete f.status;
  return f;
}

/** A filter as the API takes it: times as milliseconds. */
function apiFilter(f) {
  const out = { ...f };
  for (const k of ["after", "before"]) if (out[k]) out[k] = new Date(out[k]).getTime();
  return out;
}

function moduleOptions() {
  return [["", "any module"], ...state.modules.map((m) => [m.name, m.name])];
}

async function quarantineView(params, render) {
  const filter = filterFrom(params);
  const offset = Number(params.offset || 0);
  const limit = 25;
  // One more than shown: whether there is an older page.
  const list = await api(`/admin/v1/quarantine${query({ ...apiFilter(filter), limit: limit + 1, offset })}`);
  const more = list.entries.length > limit;
  list.entries = list.entries.slice(0, limit);
  state.lastList = window.location.hash || "#/quarantine";
  showHeld(list.held);

  const form = el(
    "form",
    { class: "filters", "aria-label": "Filter the quarantine" },
    field("Status", select("status", [["held", "held"], ["released", "released"], ["dropped", "dropped"], ["any", "any status"]], params.status || "held")),
    field("Module", select("module", moduleOptions(), filter.module)),
    field("Origin host", el("input", { name: "actor_host", type: "text", value: filter.actor_host || "", placeholder: "spam.example" })),
    field("Received from", el("input", { name: "after", type: "datetime-local", value: filter.after || "" })),
    field("Received before", el("input", { name: "before", type: "datetime-local", value: filter.before || "" })),
    field("Text contains", el("input", { name: "text", type: "search", value: filter.text || "" })),
    el("div", { class: "buttons" }, el("button", { type: "submit" }, "Apply filter")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    go(`#/quarantine${query(data)}`);
  });

  const selected = new Set();
  const selectionCount = el("span", {}, "0 selected");
  const releaseSelected = el("button", { type: "button", disabled: true }, "Release selected");
  const dropSelected = el("button", { type: "button", class: "danger", disabled: true }, "Drop selected");
  const onSelect = () => {
    selectionCount.textContent = `${selected.size} selected`;
    releaseSelected.disabled = dropSelected.disabled = selected.size === 0;
  };
  releaseSelected.addEventListener("click", () => bulk("release", { ids: [...selected] }, `${selected.size} selected`));
  dropSelected.addEventListener("click", () => bulk("drop", { ids: [...selected] }, `${selected.size} selected`));

  const entries = list.entries.map((entry) => entryCard(entry, selected, onSelect));
  const held = list.entries.filter((e) => e.status === "held");
  const selectAll = el("input", { type: "checkbox", id: "select-page" });
  selectAll.addEventListener("change", () => {
    for (const box of document.querySelectorAll("input[data-entry]")) {
      box.checked = selectAll.checked;
      box.dispatchEvent(new Event("change"));
    }
  });

  render(
    el("h1", {}, "Quarantine"),
    el("p", {}, `${list.held} activities held in all.`),
    form,
    filter.status === "held" && bulkPanel(filter),
    held.length > 0 &&
      el(
        "div",
        { class: "selection", role: "group", "aria-label": "Selected activities" },
        el("span", {}, selectAll, el("label", { for: "select-page" }, "Select every held activity on this page")),
        selectionCount,
        releaseSelected,
        dropSelected,
      ),
    entries.length ? el("ol", { class: "entries", "aria-label": "Held activities" }, entries) : el("p", {}, "Nothing matches this filter."),
    pager(params, offset, limit, more),
  );
}

function showHeld(n) {
  const badge = document.getElementById("held");
  badge.textContent = String(n);
  badge.classList.toggle("none", n === 0);
}

function pager(params, offset, limit, more) {
  const at = (o) => `#/quarantine${query({ ...params, offset: o || undefined })}`;
  return el(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    offset > 0 && el("a", { href: at(Math.max(0, offset - limit)) }, "Newer"),
    more && el("a", { href: at(offset + limit) }, "Older"),
  );
}

/** Count what a filter covers, then act on exactly those. */
function bulkPanel(filter) {
  const panel = el("section", { class: "bulk", "aria-labelledby": "bulk-title" });
  const describe = Object.entries(filter)
    .filter(([k]) => k !== "status")
    .map(([k, v]) => `${k.replace("actor_host", "origin host")} ${k === "text" ? `“${v}”` : v}`)
    .join(", ");
  const start = () => {
    panel.replaceChildren(
      el("h2", { id: "bulk-title" }, "Act on everything this filter matches"),
      el("p", {}, describe ? `Filter: ${describe}.` : "No filter: every held activity."),
      el("button", { type: "button", onclick: count }, "Count matching held activities"),
    );
  };
  const count = async () => {
    const bulkFilter = { ...apiFilter(filter) };
    delete bulkFilter.status;
    const counted = await api(`/admin/v1/quarantine/count${query(bulkFilter)}`);
    if (counted.count === 0) {
      panel.replaceChildren(el("h2", { id: "bulk-title" }, "Nothing to act on"), el("p", {}, "No held activity matches this filter."), el("button", { type: "button", onclick: start }, "Back"));
      return;
    }
    const scope = { ...bulkFilter, max_id: counted.max_id };
    const n = counted.count;
    const noun = n === 1 ? "activity" : "activities";
    panel.replaceChildren(
      el("h2", { id: "bulk-title" }, `${n} held ${noun} match`),
      el("p", {}, `Confirm to act on these ${n}; activities held after this count are not included.`),
      el(
        "div",
        { class: "buttons" },
        el("button", { type: "button", class: "danger", onclick: () => bulk("drop", scope, `${n} matching`) }, `Drop ${n} ${noun}`),
        el("button", { type: "button", onclick: () => bulk("release", scope, `${n} matching`) }, `Release ${n} ${noun}`),
        el("button", { type: "button", class: "quiet", onclick: start }, "Cancel"),
      ),
    );
    panel.querySelector("button").focus();
  };
  start();
  return panel;
}

/** While an action runs, no button of the page starts another. */
function busy() {
  for (const b of document.querySelectorAll("main button")) b.disabled = true;
}

async function bulk(action, filter, what) {
  busy();
  say(`${action === "drop" ? "Dropping" : "Releasing"} ${what}…`);
  try {
    const result = await api(`/admin/v1/quarantine/${action}`, { method: "POST", body: filter });
    if (action === "drop") say(`Dropped ${result.dropped.length} of ${what}.`, "ok");
    else {
      const failed = result.released.filter((r) => r.error);
      const ok = result.released.length - failed.length;
      say(
        failed.length ? `Released ${ok} of ${what}; ${failed.length} stay held: ${failed[0].error}` : `Released ${ok} of ${what} to the server.`,
        failed.length ? "error" : "ok",
      );
    }
  } catch (e) {
    say(e.message, "error");
  }
  route();
}

async function one(action, id, after) {
  busy();
  say(`${action === "drop" ? "Dropping" : "Releasing"} #${id}…`);
  try {
    const result = await api(`/admin/v1/quarantine/${id}/${action}`, { method: "POST" });
    let message = action === "drop" ? `Dropped #${id}.` : `Released #${id}: the server answered ${result.upstream_status}.`;
    if (result.warning) message += ` ${result.warning}`;
    say(message, "ok");
  } catch (e) {
    say(`#${id}: ${e.message}`, "error");
  }
  // `after` may navigate (back to the list): the message goes along.
  state.keepStatus = after !== route;
  after();
}

function author(view, entry) {
  return el(
    "p",
    { class: "author" },
    el("span", { class: "actor" }, view.actor || entry.actor || "unknown actor"),
    " ",
    el("span", { class: "host" }, view.actor_host || entry.actor_host || "unknown host"),
  );
}

function reasons(decision) {
  const list = (decision && decision.reasons) || [];
  if (!list.length) return el("p", {}, "No module gave a reason.");
  return el("ul", { class: "reasons" }, list.map((r) => el("li", {}, r)));
}

function entryCard(entry, selected, onSelect) {
  const view = entry.activity || {};
  const held = entry.status === "held";
  const box =
    held &&
    el("input", {
      type: "checkbox",
      id: `select-${entry.id}`,
      "data-entry": entry.id,
      onchange: (e) => {
        if (e.target.checked) selected.add(entry.id);
        else selected.delete(entry.id);
        onSelect();
      },
    });
  return el(
    "li",
    { class: "entry", "data-id": entry.id },
    el(
      "article",
      { "aria-labelledby": `entry-${entry.id}` },
      el(
        "header",
        {},
        box,
        box && el("label", { for: `select-${entry.id}`, class: "visually-hidden" }, `Select #${entry.id}`),
        el("h2", { id: `entry-${entry.id}` }, el("a", { href: `#/quarantine/${entry.id}` }, `#${entry.id}`), " ", view.kind || "", view.object_kind ? ` ${view.object_kind}` : ""),
        el("span", { class: `pill ${entry.status}` }, entry.status),
        when(entry.received_at),
      ),
      author(view, entry),
      entry.resolution && el("p", { class: "counts" }, entry.resolution, " · ", when(entry.resolved_at)),
      view.error && el("p", { class: "error" }, `Not readable as an activity: ${view.error}`),
      view.summary && el("p", { class: "cw" }, el("strong", {}, "Content warning: "), view.summary),
      view.text !== undefined && el("p", { class: "text" }, view.text || "(no text)"),
      el(
        "p",
        { class: "counts" },
        `${view.mention_count ?? 0} mentions · ${view.link_count ?? 0} links · ${view.attachment_count ?? 0} attachments`,
      ),
      el("h3", {}, "Why it was held"),
      reasons(entry.decision),
      held &&
        el(
          "div",
          { class: "buttons" },
          el("button", { type: "button", onclick: () => one("release", entry.id, route) }, `Release #${entry.id}`),
          el("button", { type: "button", class: "danger", onclick: () => one("drop", entry.id, route) }, `Drop #${entry.id}`),
        ),
    ),
  );
}

function traceTable(trace) {
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

function listOf(label, items, render) {
  return [el("h3", {}, `${label} (${items.length})`), items.length ? el("ul", { class: "plain" }, items.map((i) => el("li", {}, render(i)))) : el("p", {}, "None.")];
}

async function entryView(id, render) {
  if (!/^\d{1,18}$/.test(id)) throw new Error(`“${id}” is not a quarantine entry number`);
  const entry = await api(`/admin/v1/quarantine/${id}`);
  const view = entry.activity || {};
  const d = entry.decision || {};
  const held = entry.status === "held";
  const back = () => go(state.lastList);
  render(
    el("p", {}, el("a", { href: state.lastList }, "← Quarantine")),
    el("h1", {}, `#${entry.id} ${view.kind || ""}${view.object_kind ? ` ${view.object_kind}` : ""}`),
    author(view, entry),
    dl([
      ["Status", entry.status],
      ["Received", when(entry.received_at)],
      ["Resolved", entry.resolved_at ? [when(entry.resolved_at), " — ", entry.resolution] : null],
      ["Sent to", entry.path],
      ["Activity", view.id],
      ["Object", view.object_id],
      ["Published", view.published],
      ["Visibility", view.visibility],
      ["In reply to", view.in_reply_to],
      ["Sender", d.sender ? [d.sender.status, d.sender.reason ? ` (${d.sender.reason})` : ""] : null],
    ]),
    held &&
      el(
        "div",
        { class: "buttons" },
        el("button", { type: "button", onclick: () => one("release", entry.id, back) }, "Release to the server"),
        el("button", { type: "button", class: "danger", onclick: () => one("drop", entry.id, back) }, "Drop"),
      ),
    el(
      "section",
      { "aria-labelledby": "content-title" },
      el("h2", { id: "content-title" }, "What it says"),
      view.error && el("p", { class: "error" }, `Not readable as an activity: ${view.error}`),
      view.summary && el("p", { class: "cw" }, el("strong", {}, "Content warning: "), view.summary),
      view.sensitive && el("p", {}, "Marked sensitive."),
      el("p", { class: "text" }, view.text || "(no text)"),
      listOf("Mentions", view.mentions || [], (m) => [m.name || "", m.name ? " " : "", el("code", {}, m.href), m.local ? " (local user)" : ""]),
      listOf("Links", view.links || [], (l) => el("code", {}, l)),
      listOf("Hashtags", view.hashtags || [], (t) => `#${t}`),
      listOf("Attachments", view.attachments || [], (a) => [
        `${a.kind}${a.media_type ? ` (${a.media_type})` : ""} `,
        el("code", {}, a.url || "no URL"),
        a.name ? [" — alt text: ", a.name] : "",
      ]),
      (view.notes || []).length > 0 && listOf("What the parser tolerated", view.notes, (n) => n),
    ),
    el(
      "section",
      { "aria-labelledby": "why-title" },
      el("h2", { id: "why-title" }, "Why it was held"),
      dl([["Action", d.action], ["Score", d.score]]),
      reasons(d),
      traceTable(d.trace),
    ),
    view.content_html && el("details", {}, el("summary", {}, "The HTML as sent (shown as text)"), el("pre", { class: "source", "data-source": "html" }, view.content_html)),
    view.raw && el("details", {}, el("summary", {}, "The activity as received"), el("pre", { class: "source", "data-source": "raw" }, view.raw)),
  );
}

// ---- decisions --------------------------------------------------------

function stopLive() {
  if (state.live) clearInterval(state.live);
  state.live = null;
}

async function decisionsView(params, render) {
  const form = el(
    "form",
    { class: "filters", "aria-label": "Filter decisions" },
    field("Action", select("action", [["", "any action"], ["accept", "accept"], ["quarantine", "quarantine"], ["reject", "reject"]], params.action)),
    field("Module", select("module", moduleOptions(), params.module)),
    field("Origin host", el("input", { name: "actor_host", type: "text", value: params.actor_host || "" })),
    field("Actor", el("input", { name: "actor", type: "text", value: params.actor || "", placeholder: "https://host/users/name" })),
    el("div", { class: "buttons" }, el("button", { type: "submit" }, "Apply filter")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(`#/decisions${query(Object.fromEntries(new FormData(form)))}`);
  });
  const live = el("input", { type: "checkbox", id: "live", checked: true });
  const table = el("div", { class: "scroll" });
  const refresh = async () => {
    const { decisions } = await api(`/admin/v1/decisions${query({ ...params, limit: 100 })}`);
    table.replaceChildren(decisionsTable(decisions));
  };
  live.addEventListener("change", () => {
    stopLive();
    if (live.checked) state.live = setInterval(() => refresh().catch((e) => say(e.message, "error")), 2000);
  });
  await refresh();
  if (render(el("h1", {}, "Recent decisions"), form, el("p", {}, live, el("label", { for: "live" }, "Update every two seconds")), table)) {
    live.dispatchEvent(new Event("change"));
  }
}

function decisionsTable(decisions) {
  if (!decisions.length) return el("p", {}, "No recent decision matches.");
  return el(
    "table",
    { class: "decisions" },
    el("caption", {}, `The ${decisions.length} most recent matching decisions, newest first`),
    el("thead", {}, el("tr", {}, ["When", "Action", "Actor", "Why", "Trace"].map((h) => el("th", { scope: "col" }, h)))),
    el(
      "tbody",
      {},
      decisions.map((d) =>
        el(
          "tr",
          { class: d.action },
          el("td", {}, when(d.received_at)),
          el("td", {}, el("span", { class: `pill ${d.action}` }, d.action), d.quarantine_id ? [" ", el("a", { href: `#/quarantine/${d.quarantine_id}` }, `#${d.quarantine_id}`)] : ""),
          el("td", { class: "actor" }, d.actor || "(none)"),
          el("td", {}, (d.reasons || []).join("; ") || (d.error ? d.error.message : "")),
          el("td", {}, el("a", { href: `#/decisions/${encodeURIComponent(d.decision_id)}`, "aria-label": `Trace of the decision at ${new Date(d.received_at).toLocaleTimeString()}` }, "Trace")),
        ),
      ),
    ),
  );
}

async function decisionView(id, render) {
  if (!/^[0-9a-f-]{1,64}$/i.test(id)) throw new Error(`“${id}” is not a decision id`);
  const d = await api(`/admin/v1/decisions/${id}`);
  render(
    el("p", {}, el("a", { href: "#/decisions" }, "← Recent decisions")),
    el("h1", {}, `Decision: ${d.action}`),
    dl([
      ["Decision", d.decision_id],
      ["Received", when(d.received_at)],
      ["Path", d.path],
      ["Actor", d.actor],
      ["Origin host", d.actor_host],
      ["Activity", d.id],
      ["Score", d.score],
      ["Sender", d.sender ? [d.sender.status, d.sender.reason ? ` (${d.sender.reason})` : ""] : null],
      ["Held as", d.quarantine_id ? el("a", { href: `#/quarantine/${d.quarantine_id}` }, `#${d.quarantine_id}`) : null],
      ["Error", d.error ? d.error.message : null],
    ]),
    el("h2", {}, "Reasons"),
    reasons(d),
    el("h2", {}, "Trace"),
    traceTable(d.trace),
    (d.notes || []).length > 0 && listOf("What the parser tolerated", d.notes, (n) => n),
  );
}

// ---- modules ----------------------------------------------------------

async function modulesView(render) {
  const p = await api("/admin/v1/policies");
  state.modules = p.modules;
  const reload = el("button", { type: "button" }, "Reload modules now");
  reload.addEventListener("click", async () => {
    try {
      const r = await api("/admin/v1/reload", { method: "POST" });
      say(`Reloaded: ${r.result || "ok"}.`, "ok");
    } catch (e) {
      say(e.message, "error");
    }
    route();
  });
  const last = p.last_reload;
  render(
    el("h1", {}, "Modules"),
    el(
      "section",
      { "aria-labelledby": "reload-title" },
      el("h2", { id: "reload-title" }, "Last reload"),
      last ? dl([["When", last.at], ["Trigger", last.trigger], ["Result", last.result], ["Took", `${last.duration_ms} ms`], ["Error", last.error]]) : el("p", {}, "Not reloaded since start."),
      p.failures.length > 0 && listOf("Failed to load", p.failures, (f) => [el("code", {}, f.source), `: ${f.error}`, f.serving ? ` (version ${f.serving} still judges)` : " (nothing judges in its place)"]),
      reload,
    ),
    el(
      "div",
      { class: "scroll" },
      el(
        "table",
        { class: "modules" },
        el("caption", {}, `${p.modules.length} modules judging, in order`),
        el("thead", {}, el("tr", {}, ["Module", "Mode", "Signature", "Calls", "Hits", "Errors", "p50", "p99", "sha256"].map((h) => el("th", { scope: "col" }, h)))),
        el(
          "tbody",
          {},
          p.modules.map((m) => {
            const errors = Object.entries(m.errors || {}).filter(([, n]) => n > 0);
            return el(
              "tr",
              {},
              el("th", { scope: "row" }, `${m.name} ${m.version}`),
              el("td", {}, m.mode),
              el("td", {}, signature(m.signature)),
              el("td", {}, String(m.calls)),
              el("td", {}, String(m.hits)),
              el("td", {}, errors.length ? errors.map(([k, n]) => `${k} ${n}`).join(", ") : "none"),
              el("td", { class: "num" }, m.latency ? `${m.latency.p50_us} µs` : "no calls"),
              el("td", { class: "num" }, m.latency ? `${m.latency.p99_us} µs` : "no calls"),
              el("td", {}, el("code", { class: "hash" }, m.sha256)),
            );
          }),
        ),
      ),
    ),
    el("p", { class: "hint" }, "Latency percentiles cover each module's last 1,024 calls; calls, hits (verdicts other than pass) and errors count since this version loaded."),
  );
}

function signature(s) {
  if (!s) return "";
  switch (s.status) {
    case "trusted":
      return `signed by ${s.key_id}`;
    case "untrusted-key":
      return `signed by an untrusted key ${s.key_id}`;
    case "invalid":
      return `invalid: ${s.reason}`;
    default:
      return s.status;
  }
}

// ---- replay and canary reports -----------------------------------------

/** The largest report file read (a report lists at most 10,000 changes). */
const MAX_REPORT_BYTES = 64 * 1024 * 1024;

async function replayView(render) {
  const input = el("input", { type: "file", id: "report-file", accept: ".json,application/json" });
  const out = el("div", { id: "report", "aria-live": "polite" });
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    if (file.size > MAX_REPORT_BYTES) {
      out.replaceChildren(el("p", { class: "error" }, `${file.name} is ${file.size} bytes; a report is at most ${MAX_REPORT_BYTES}.`));
      return;
    }
    let report;
    try {
      report = JSON.parse(await file.text());
    } catch (e) {
      out.replaceChildren(el("p", { class: "error" }, `${file.name} is not JSON: ${e.message}`));
      return;
    }
    if (!report || typeof report !== "object" || typeof report.modules !== "object" || typeof report.actions !== "object") {
      out.replaceChildren(el("p", { class: "error" }, `${file.name} is not a report of palisade replay --format json (it has no modules or actions).`));
      return;
    }
    out.replaceChildren(replayReport(report, file.name));
  });
  render(
    el("h1", {}, "Replay and canary reports"),
    el(
      "p",
      {},
      "Replays run from the command line and keep nothing in the sidecar. Open a report here to read it: ",
      el("code", {}, "palisade replay --format json --compare canary.toml traffic.jsonl > report.json"),
      ". The file is read by this browser only; nothing is sent anywhere.",
    ),
    field("Replay report", input, "A JSON report of palisade replay"),
    out,
  );
}

function rate(x) {
  return typeof x === "number" ? `${(x * 100).toFixed(1)} %` : "n/a";
}

function replayReport(r, name) {
  const a = r.actions || {};
  const modules = Object.entries(r.modules || {});
  const labels = Object.entries(r.labels || {});
  const shadow = Object.entries(r.shadow || {});
  return el(
    "section",
    { "aria-labelledby": "report-title" },
    el("h2", { id: "report-title" }, name),
    dl([
      ["Lines", `${r.lines} (${r.judged} judged, ${r.unreadable} unreadable)`],
      ["Actions", `${a.accept ?? 0} accepted, ${a.quarantine ?? 0} quarantined, ${a.reject ?? 0} rejected`],
      ["Precision", rate(r.precision)],
      ["Recall", rate(r.recall)],
      ["Legitimate rejected", rate(r.legit_rejected_rate)],
      ["Legitimate quarantined", rate(r.legit_quarantined_rate)],
      ["Cost per line", r.cost_us ? `p50 ${r.cost_us.p50} µs, p99 ${r.cost_us.p99} µs` : null],
    ]),
    el(
      "div",
      { class: "scroll" },
      el(
        "table",
        { class: "report-modules" },
        el("caption", {}, "Modules, in judging order"),
        el("thead", {}, el("tr", {}, ["Module", "Mode", "Calls", "Hits", "Reject", "Quarantine", "Score", "Accept", "Errors", "Shadow hits"].map((h) => el("th", { scope: "col" }, h)))),
        el(
          "tbody",
          {},
          modules.map(([m, x]) =>
            el("tr", {}, el("th", { scope: "row" }, m), ...[x.mode, x.calls, x.hits, x.reject, x.quarantine, x.score, x.accept, x.errors, x.shadow_hits].map((v) => el("td", {}, String(v ?? "")))),
          ),
        ),
      ),
    ),
    labels.length > 0 &&
      el(
        "div",
        { class: "scroll" },
        el(
          "table",
          {},
          el("caption", {}, "Labels"),
          el("thead", {}, el("tr", {}, ["Label", "Class", "Total", "Accepted", "Rejected", "Quarantined", "Accepted before the first stop"].map((h) => el("th", { scope: "col" }, h)))),
          el(
            "tbody",
            {},
            labels.map(([l, x]) =>
              el("tr", {}, el("th", { scope: "row" }, l), ...[x.class, x.total, x.accepted, x.rejected, x.quarantined, x.accepted_before_first_stop].map((v) => el("td", {}, String(v ?? "")))),
            ),
          ),
        ),
      ),
    r.compare && diff(`Canary: ${r.compare.against}`, r.compare),
    shadow.map(([m, d]) => diff(`Shadow module ${m}, if enforced`, d)),
  );
}

/** What a canary or an enforced shadow module would change. */
function diff(title, d) {
  const shown = 200;
  const outcome = (o) => `${o.action}${o.module ? ` (${o.module}${o.reason ? `: ${o.reason}` : ""})` : ""}`;
  return el(
    "section",
    { class: "diff" },
    el("h2", {}, title),
    el("p", {}, `${d.changed} judged lines change their final action${d.truncated ? ` (${d.truncated} more counted but not listed)` : ""}.`),
    d.actions && el("p", {}, `Then: ${d.actions.accept ?? 0} accepted, ${d.actions.quarantine ?? 0} quarantined, ${d.actions.reject ?? 0} rejected; recall ${rate(d.recall)}, legitimate rejected ${rate(d.legit_rejected_rate)}.`),
    Object.entries(d.modules || {}).map(([m, x]) => [
      el("h3", {}, `${m}: ${x.changed} changed`),
      el(
        "div",
        { class: "scroll" },
        el(
          "table",
          {},
          el("thead", {}, el("tr", {}, ["Line", "Activity", "Label", "Before", "After"].map((h) => el("th", { scope: "col" }, h)))),
          el(
            "tbody",
            {},
            (x.changes || []).slice(0, shown).map((c) =>
              el("tr", {}, el("td", { class: "num" }, String(c.line)), el("td", { class: "actor" }, c.id || ""), el("td", {}, c.label || ""), el("td", {}, outcome(c.before)), el("td", {}, outcome(c.after))),
            ),
          ),
        ),
      ),
      (x.changes || []).length > shown && el("p", {}, `… and ${(x.changes || []).length - shown} more in the file.`),
    ]),
  );
}

// ---- start ------------------------------------------------------------

async function start() {
  const session = await fetch("/console/session", { credentials: "same-origin" });
  if (!session.ok) {
    window.location.assign("/console/login");
    return;
  }
  state.csrf = (await session.json()).csrf;
  // The skip link moves focus, not the address (which names the view).
  document.querySelector("a.skip").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main").focus();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await fetch("/console/logout", { method: "POST", headers: { "X-CSRF-Token": state.csrf }, credentials: "same-origin" });
    window.location.assign("/console/login");
  });
  try {
    state.modules = (await api("/admin/v1/policies")).modules;
  } catch (e) {
    say(e.message, "error");
  }
  // A message about an action stays until the moderator goes elsewhere.
  window.addEventListener("hashchange", () => {
    if (!state.keepStatus) say("");
    state.keepStatus = false;
    route();
  });
  route(true);
}

start();
