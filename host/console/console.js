// The Palisade console: review the quarantine, watch decisions and modules,
// read replay reports. This module routes addresses to views and starts
// the page; ui.js says how content is kept text.

import { decisionView, decisionsView } from "./decisions.js";
import { modulesView } from "./modules.js";
import { entryView, quarantineView } from "./quarantine.js";
import { replayView } from "./replay.js";
import { api, el, say, setRouter, show, showHeld, state, stopLive } from "./ui.js";

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
  api("/admin/v1/quarantine/held")
    .then((c) => showHeld(c.held))
    .catch(() => {});
}

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

setRouter(() => route());
start();
