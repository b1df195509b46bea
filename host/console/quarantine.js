// The quarantine: held activities, one and in bulk.

import { api, busy, dl, el, field, go, listOf, moduleOptions, query, reasons, rerender, say, select, showHeld, state, traceTable, when } from "./ui.js";

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

export async function quarantineView(params, render) {
  const here = window.location.hash || "#/quarantine";
  const filter = filterFrom(params);
  const offset = Number(params.offset || 0);
  const limit = 25;
  // One more than shown: whether there is an older page.
  const list = await api(`/admin/v1/quarantine${query({ ...apiFilter(filter), limit: limit + 1, offset })}`);
  const more = list.entries.length > limit;
  list.entries = list.entries.slice(0, limit);

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

  const shown = render(
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
  if (shown) {
    // Where "back" from an entry returns, filters and page included.
    state.lastList = here;
    showHeld(list.held);
  }
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
    let counted;
    try {
      counted = await api(`/admin/v1/quarantine/count${query(bulkFilter)}`);
    } catch (e) {
      say(`Cannot count: ${e.message}`, "error");
      return;
    }
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
  rerender();
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
  state.keepStatus = after !== rerender;
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
          el("button", { type: "button", onclick: () => one("release", entry.id, rerender) }, `Release #${entry.id}`),
          el("button", { type: "button", class: "danger", onclick: () => one("drop", entry.id, rerender) }, `Drop #${entry.id}`),
        ),
    ),
  );
}

export async function entryView(id, render) {
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
