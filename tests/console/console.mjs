// The moderators' console in a real browser: Debian's Chromium, headless,
// driven by Playwright. tests/tests/console_browser.rs starts a sidecar
// with held activities and runs this; it then checks what reached the
// upstream. Any failed expectation exits non-zero with the reason.
//
// Environment: CONSOLE (the console's URL), TOKEN, RELEASE_ID (the entry
// to release), HOSTILE_ID (the entry whose HTML must stay text), HELD (how
// many are held at the start), JUDGE (the judge API's URL) and JUDGE_BODY
// (an activity file to judge while the decisions page is open), REPORT (a
// `palisade replay --format json --compare` report to open), SHOTS
// (where screenshots go), CHROMIUM.

import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const CONSOLE = env("CONSOLE");
const TOKEN = env("TOKEN");
const RELEASE_ID = env("RELEASE_ID");
const HOSTILE_ID = env("HOSTILE_ID");
const HELD = Number(env("HELD"));
const SHOTS = env("SHOTS");
const JUDGE = env("JUDGE");
const JUDGE_BODY = readFileSync(env("JUDGE_BODY"));
const REPORT = env("REPORT");
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
mkdirSync(SHOTS, { recursive: true });

/** axe-core's WCAG 2.0/2.1 A and AA rules on `page`: one line per violation. */
async function axe(page) {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.length} × ${v.nodes[0].target.join(" ")}`);
  });
}

function expect(condition, message) {
  if (!condition) throw new Error(`expected: ${message}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});
const steps = [];
const pageErrors = [];
let lastPage = null;
const step = async (name, f) => {
  await f();
  steps.push(name);
};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  lastPage = page;
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    // Failed loads are checked by status below, with their URLs.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(m.text());
  });
  const failedLoads = [];
  page.on("response", (r) => {
    if (r.status() >= 400) failedLoads.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  // Each screenshot is also a check that nothing on the page shows a
  // script's value instead of text.
  const shot = async (name) => {
    const text = await page.innerText("body");
    for (const leak of ["[object ", "undefined", "NaN"]) expect(!text.includes(leak), `"${leak}" on the page ${name}`);
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  await step("the console asks for the token, and refuses a wrong one", async () => {
    await page.goto(CONSOLE);
    expect(page.url().endsWith("/console/login"), `redirected to the login page, at ${page.url()}`);
    // Keyboard only: the token field has focus; Enter submits.
    await page.keyboard.type("not-the-token");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".error");
    const refusal = await page.textContent(".error");
    expect(refusal.includes("not the admin token"), `the wrong token is named as such: ${refusal}`);
    await shot("01-login-refused");
  });

  await step("logging in with the token shows the quarantine", async () => {
    await page.getByLabel("Admin token").fill(TOKEN);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForSelector("ol.entries");
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "palisade_session");
    expect(session && session.httpOnly && session.sameSite === "Strict", `an HttpOnly, SameSite=Strict session cookie: ${JSON.stringify(session)}`);
    const cards = await page.locator("li.entry").count();
    expect(cards === HELD, `${HELD} held activities listed, saw ${cards}`);
    expect((await page.textContent("#held")).trim() === String(HELD), "the held count in the navigation");
    await shot("02-quarantine");
  });

  await step("a wave activity shows its author, host, text and the module's reasons", async () => {
    const card = page.locator(`li.entry[data-id="${RELEASE_ID}"]`);
    const text = await card.innerText();
    expect(text.includes("misskey.spam.example"), "the origin host");
    expect(text.includes("https://misskey.spam.example/users/9pz1bot000"), "the author");
    expect(text.includes("Mastodon is dead"), "the text");
    expect(text.includes("first-contact:"), `the module that held it and why: ${text}`);
    expect(/2 mentions/.test(text), "the mention count");
  });

  await step("the hostile activity's HTML is shown as text and never runs", async () => {
    await page.goto(`${CONSOLE}#/quarantine/${HOSTILE_ID}`);
    await page.waitForSelector("pre[data-source=html]", { state: "attached" });
    await page.locator("details summary", { hasText: "The HTML as sent" }).click();
    const source = await page.textContent("pre[data-source=html]");
    expect(source.includes("<script>window.pwned = 1</script>"), `the script tag as text: ${source}`);
    expect(source.includes("onerror"), "the img tag as text");
    const text = await page.textContent("p.text");
    expect(text.includes("Totally harmless"), "the plain text");
    expect(!text.includes("<script>") && !text.includes("window.pwned"), `the content's tags are not in the plain text: ${text}`);
    // The alt text is part of what was judged; its markup is text too.
    expect(text.includes("<img src=x onerror=alert(1)>"), `the alt text, literally: ${text}`);
    const cw = await page.textContent("p.cw");
    expect(cw.includes("<b>") === false && cw.includes("CW"), `the content warning as text: ${cw}`);
    const injected = await page.evaluate(() => ({
      pwned: window.pwned,
      scripts: document.querySelectorAll("main script").length,
      images: document.querySelectorAll("img").length,
      links: [...document.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")).filter((h) => !h.startsWith("#")),
    }));
    expect(injected.pwned === undefined, "the sender's script did not run");
    expect(injected.scripts === 0 && injected.images === 0, `no element of the sender's: ${JSON.stringify(injected)}`);
    expect(injected.links.length === 0, `no link to anywhere but the console: ${injected.links}`);
    const links = await page.locator("section li code").allTextContents();
    expect(links.includes("https://evil.example/click"), `the link as text: ${links}`);
    expect(links.includes("https://spam.example/media/x.png"), "the attachment by URL only");
    await shot("03-hostile-as-text");
  });

  await step("releasing the wave activity delivers it", async () => {
    await page.goto(`${CONSOLE}#/quarantine/${RELEASE_ID}`);
    await page.getByRole("button", { name: "Release to the server" }).click();
    await page.locator("#status", { hasText: "Released" }).waitFor();
    const status = await page.textContent("#status");
    expect(status.includes(`Released #${RELEASE_ID}: the server answered 202`), `the upstream's answer: ${status}`);
    await page.waitForSelector("ol.entries");
    expect((await page.locator("li.entry").count()) === HELD - 1, "one fewer held");
    await shot("04-released");
  });

  await step("the rest are counted, then dropped in bulk", async () => {
    await page.getByLabel("Origin host").fill("misskey.spam.example");
    await page.getByRole("button", { name: "Apply filter" }).click();
    await page.waitForURL(/actor_host=misskey.spam.example/);
    await page.getByRole("button", { name: "Count matching held activities" }).click();
    const rest = HELD - 1;
    const heading = page.getByRole("heading", { name: `${rest} held activities match` });
    await heading.waitFor();
    await shot("05-bulk-count");
    await page.getByRole("button", { name: `Drop ${rest} activities` }).click();
    await page.locator("#status", { hasText: "Dropped" }).waitFor();
    const status = await page.textContent("#status");
    expect(status.includes(`Dropped ${rest} of ${rest} matching`), status);
    await page.getByText("Nothing matches this filter.").waitFor();
    expect((await page.textContent("#held")).trim() === "0", "nothing held");
    await shot("06-bulk-dropped");
  });

  await step("recent decisions link to their traces", async () => {
    await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Decisions" }).click();
    await page.getByLabel("Action").selectOption("quarantine");
    await page.getByRole("button", { name: "Apply filter" }).click();
    await page.waitForURL(/action=quarantine/);
    await page.waitForSelector("table.decisions");
    const rows = await page.locator("table.decisions tbody tr").count();
    expect(rows === HELD, `${HELD} quarantine decisions, saw ${rows}`);
    await shot("07-decisions");
    await page.getByRole("link", { name: /^Trace of the decision/ }).first().click();
    await page.getByRole("heading", { name: /^Decision: / }).waitFor();
    const trace = await page.textContent("table");
    expect(trace.includes("first-contact") && trace.includes("mention-limit"), `the trace names the modules that ran: ${trace}`);
    expect((await page.textContent("h1")).includes("quarantine"), "the decision's action");
    await shot("08-trace");
  });

  await step("the decisions page shows a new decision without being reloaded", async () => {
    await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Decisions" }).click();
    await page.getByLabel("Action").selectOption("");
    await page.getByRole("button", { name: "Apply filter" }).click();
    await page.waitForSelector("table.decisions");
    expect(await page.getByLabel("Update every two seconds").isChecked(), "live by default");
    const before = await page.locator("table.decisions tbody tr").count();
    const judged = await page.request.post(JUDGE, { data: JUDGE_BODY, headers: { "Content-Type": "application/activity+json" } });
    expect(judged.ok(), `the judge API answered ${judged.status()}`);
    const actor = JSON.parse(JUDGE_BODY).actor;
    await page.locator("table.decisions tbody tr", { hasText: actor }).first().waitFor({ timeout: 10000 });
    const after = await page.locator("table.decisions tbody tr").count();
    expect(after === before + 1, `one more row: ${before} -> ${after}`);
  });

  await step("modules show version, mode, signature, hits and latency", async () => {
    await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Modules" }).click();
    await page.waitForSelector("table.modules");
    const row = await page.locator("table.modules tr", { hasText: "first-contact" }).innerText();
    expect(/enforce/.test(row), `the mode: ${row}`);
    expect(/bundled/.test(row), `the signature status: ${row}`);
    expect(/\d+ µs/.test(row), `latency percentiles: ${row}`);
    expect(/[0-9a-f]{64}/.test(row), `the sha256: ${row}`);
    await shot("09-modules");
  });

  await step("a replay report and its canary diff are shown", async () => {
    const report = JSON.parse(readFileSync(REPORT, "utf8"));
    expect(report.compare && report.compare.changed > 0, "the fixture report has a canary diff");
    await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Replay" }).click();
    await page.getByLabel("Replay report").setInputFiles(REPORT);
    await page.waitForSelector("section.diff");
    const text = await page.innerText("#report");
    expect(text.includes(`${report.compare.changed} judged lines change their final action`), `the canary's count: ${text}`);
    for (const [module, changes] of Object.entries(report.compare.modules)) {
      expect(text.includes(`${module}: ${changes.changed} changed`), `the changes under ${module}`);
      expect(text.includes(changes.changes[0].after.reason), `the new outcome's reason under ${module}`);
    }
    const rows = await page.locator("table.report-modules tbody tr").count();
    expect(rows === Object.keys(report.modules).length, `one row per module: ${rows}`);
    await shot("10-replay-report");
    // Something that is not a report says so.
    await page.getByLabel("Replay report").setInputFiles({ name: "x.json", mimeType: "application/json", buffer: Buffer.from("[1,2]") });
    await page.getByText("is not a report of palisade replay").waitFor();
  });

  await step("the keyboard reaches everything, starting with a skip link", async () => {
    await page.goto(`${CONSOLE}#/quarantine?status=any`);
    // A fresh load leaves focus at the top of the page.
    await page.reload();
    await page.waitForSelector("ol.entries");
    await page.keyboard.press("Tab");
    expect((await page.evaluate(() => document.activeElement.textContent)) === "Skip to content", "the skip link first");
    await page.keyboard.press("Enter");
    expect((await page.evaluate(() => document.activeElement.id)) === "main", "focus moves to the content");
    // Tabbing on reaches the filter's fields and its button, each with a
    // visible focus outline.
    const reached = [];
    // (A date-time field takes a stop per part: day, month, year, hour…)
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press("Tab");
      reached.push(
        await page.evaluate(() => {
          const a = document.activeElement;
          const outline = getComputedStyle(a).outlineStyle;
          return `${a.tagName.toLowerCase()}:${a.name || a.textContent.trim()}:${outline}`;
        }),
      );
    }
    for (const want of ["select:status", "input:actor_host", "input:text", "button:Apply filter"]) {
      const hit = reached.find((r) => r.startsWith(`${want}:`));
      expect(hit && !hit.endsWith(":none"), `${want} reached with a visible focus: ${reached}`);
    }
  });

  await step("every form control has a label", async () => {
    for (const hash of ["#/quarantine", "#/decisions"]) {
      await page.goto(`${CONSOLE}${hash}`);
      await page.waitForSelector("form.filters");
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll("input, select, button")]
          .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute("aria-label") && !c.textContent.trim())
          .map((c) => c.outerHTML),
      );
      expect(unlabelled.length === 0, `controls without a label on ${hash}: ${unlabelled}`);
    }
  });

  await step("on a phone-sized screen nothing runs off the side", async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    for (const hash of ["#/quarantine", "#/decisions", "#/modules", "#/replay", `#/quarantine/${HOSTILE_ID}`]) {
      await page.goto(`${CONSOLE}${hash}`);
      await page.waitForSelector("main h1");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow <= 0, `${hash} is ${overflow} px wider than the screen`);
    }
    await page.goto(`${CONSOLE}#/quarantine?status=any`);
    await page.waitForSelector("ol.entries");
    await shot("11-narrow");
  });

  await step("axe finds no WCAG 2 A or AA violation on any page", async () => {
    // A second browser context with the same session: it lets the audit's
    // own script in past the console's CSP (the moderator's never does).
    const audit = await browser.newContext({ bypassCSP: true, storageState: await context.storageState() });
    const p = await audit.newPage();
    const pages = ["#/quarantine?status=any", `#/quarantine/${HOSTILE_ID}`, "#/decisions", "#/modules", "#/replay"];
    const found = [];
    for (const hash of pages) {
      await p.goto(`${CONSOLE}${hash}`);
      await p.waitForSelector("main h1");
      found.push(...(await axe(p)).map((v) => `${hash}: ${v}`));
    }
    await audit.close();
    // And the login page, logged out.
    const outside = await browser.newContext({ bypassCSP: true });
    const login = await outside.newPage();
    await login.goto(`${CONSOLE}login`);
    found.push(...(await axe(login)).map((v) => `login: ${v}`));
    await outside.close();
    expect(found.length === 0, `accessibility violations:\n${found.join("\n")}`);
  });

  await step("logging out ends the session", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/\/console\/login$/);
    const answer = await page.request.get(CONSOLE.replace(/\/console\/$/, "/admin/v1/policies"));
    expect(answer.status() === 401, `the old session is refused, got ${answer.status()}`);
  });

  expect(pageErrors.length === 0, `no script errors on the page: ${pageErrors}`);
  // The one refusal the moderator asked for: the wrong token.
  expect(failedLoads.join() === "401 /console/login", `no request failed but the wrong login: ${failedLoads}`);
  console.log(JSON.stringify({ ok: true, steps }));
} catch (e) {
  console.error(`after ${steps.length} steps (${steps.join("; ")}): ${e.message}`);
  if (pageErrors.length) console.error(`script errors on the page: ${pageErrors.join("; ")}`);
  if (lastPage) {
    const status = await lastPage.textContent("#status").catch(() => "?");
    console.error(`the page was at ${lastPage.url()}, its status line: “${status}”`);
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
