// The modules judging: versions, modes, signatures, figures, reloads.

import { api, busy, dl, el, listOf, rerender, say, state } from "./ui.js";

export async function modulesView(render) {
  const p = await api("/admin/v1/policies");
  state.modules = p.modules;
  const reload = el("button", { type: "button" }, "Reload modules now");
  reload.addEventListener("click", async () => {
    busy();
    try {
      const r = await api("/admin/v1/reload", { method: "POST" });
      say(`Reloaded: ${r.result || "ok"}.`, "ok");
    } catch (e) {
      say(e.message, "error");
    }
    rerender();
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
