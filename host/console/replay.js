// Replay and canary reports, read in the browser from a file.

import { dl, el, field } from "./ui.js";

/** The largest report file read (a report lists at most 10,000 changes). */
const MAX_REPORT_BYTES = 64 * 1024 * 1024;

export async function replayView(render) {
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
