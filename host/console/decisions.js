// Recent decisions, live, and each one's trace.

import { api, dl, el, field, go, listOf, moduleOptions, query, reasons, say, select, state, stopLive, traceTable, when } from "./ui.js";

export async function decisionsView(params, render) {
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

export async function decisionView(id, render) {
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
