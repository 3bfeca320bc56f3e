// End-to-end test of the web map in Debian's headless Chromium.
// Needs: FOREST_URL (a running `forest demo`), FOREST_RANGER_TOKEN, CHROMIUM
// (default /usr/bin/chromium), SCREENSHOT_DIR (optional).
// Prints cargo-style "test result" lines so the suite's tally counts it.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const base = process.env.FOREST_URL;
const token = process.env.FOREST_RANGER_TOKEN;
const shots = process.env.SCREENSHOT_DIR;
assert.ok(base && token, "FOREST_URL and FOREST_RANGER_TOKEN are required");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
});
let passed = 0;
let failed = 0;
const errors = [];

async function check(name, fn) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") errors.push(`${name}: console: ${m.text()}`); });
  page.setDefaultTimeout(30_000);
  try {
    await fn(page);
    console.log(`test web::${name} ... ok`);
    passed++;
  } catch (e) {
    console.log(`test web::${name} ... FAILED\n${e.stack || e}`);
    failed++;
    if (shots) await page.screenshot({ path: `${shots}/${name}-failed.png` }).catch(() => {});
  } finally {
    await page.close();
  }
}

async function ready(page) {
  await page.goto(base + "/");
  await page.waitForSelector("body[data-ready=true]");
  // the map has drawn: plots are on the canvas, not only in the source
  await page.waitForFunction(() => window.forestMap.loaded() && window.forestMap.queryRenderedFeatures({ layers: ["plots-fill"] }).length > 0);
}

await check("page_loads_and_plots_render_offline", async (page) => {
  const outside = [];
  page.on("request", (r) => { const u = r.url(); if (!u.startsWith(base) && !u.startsWith("blob:" + base) && !u.startsWith("data:")) outside.push(u); });
  await ready(page);
  const drawn = await page.evaluate(() => window.forestMap.queryRenderedFeatures({ layers: ["plots-fill"] }).length);
  assert.ok(drawn > 100, `only ${drawn} plots drawn`);
  const alerts = await page.locator("#alert-list li").count();
  assert.ok(alerts >= 10, `alerts panel lists ${alerts}`);
  // ordered by priority, highest first
  const prios = await page.locator("#alert-list .prio").allTextContents();
  const nums = prios.map(Number);
  assert.deepEqual(nums, [...nums].sort((a, b) => b - a));
  const hotspots = await page.evaluate(() => window.forestMap.querySourceFeatures("hotspots").length);
  assert.ok(hotspots >= 9, `${hotspots} hotspots`);
  assert.deepEqual(outside, [], "no request leaves the service (works offline)");
  if (shots) await page.screenshot({ path: `${shots}/map.png` });
});

await check("indicators_and_fire_danger_panel", async (page) => {
  await ready(page);
  await page.click("button[data-tab=indicators]");
  await page.waitForSelector("#indicator-table");
  const text = await page.locator("#indicators").innerText();
  assert.match(text, /85\.08/, "forest cover");
  assert.match(text, /4594\.34/, "contracted area");
  await page.waitForSelector("#danger-level");
  assert.equal(await page.locator("#danger-level").innerText(), "II");
  // the danger layer colours plots by level
  await page.click("button[data-tab=layers]");
  await page.check("#layer-danger");
  await page.waitForFunction(() => window.forestMap.queryRenderedFeatures({ layers: ["plots-danger"] }).some((f) => f.properties.fire_level === 2));
});

await check("public_sees_no_names_and_no_triage", async (page) => {
  await ready(page);
  await page.locator("#alert-list li").first().click();
  await page.waitForSelector("#alert-detail:not([hidden])");
  assert.equal(await page.locator("#alert-detail .holder").count(), 0);
  assert.equal(await page.locator(".triage button").count(), 0);
});

await check("ranger_clicks_an_alert_sees_owner_and_contract_holder_and_triages", async (page) => {
  await ready(page);
  await page.fill("#token", token);
  await page.click("#signin");
  await page.waitForFunction(() => document.getElementById("who").textContent.includes("ranger"));
  // the first contracted alert in the list
  const item = page.locator("#alert-list li", { hasText: "" });
  const n = await item.count();
  let found = false;
  for (let i = 0; i < n && !found; i++) {
    await item.nth(i).click();
    await page.waitForSelector("#alert-detail:not([hidden])");
    const holder = await page.locator("#alert-detail .holder").first().innerText().catch(() => "—");
    found = holder !== "—" && holder.trim() !== "";
  }
  assert.ok(found, "an alert over a contracted plot shows its contract holder");
  const owner = await page.locator("#alert-detail .owner").first().innerText();
  assert.ok(owner.trim().length > 0, "and its owner");
  // the ranger starts verification with a note
  const title = await page.locator("#alert-detail h3").innerText();
  const id = Number(title.match(/#(\d+)/)[1]);
  await page.fill("#triage-note", "Tổ kiểm lâm đi xác minh hiện trường");
  await page.locator(".triage button[data-to=under_verification]").click();
  await page.waitForFunction((id) => document.querySelector(`#alert-list li[data-alert="${id}"] .status-under_verification`), id);
  const r = await page.evaluate(async ([id, token]) => (await fetch(`/api/alerts/${id}/history`, { headers: { Authorization: "Bearer " + token } })).json(), [id, token]);
  const last = r.history[r.history.length - 1];
  assert.equal(last.to_status, "under_verification");
  assert.match(last.actor, /ranger/);
  if (shots) await page.screenshot({ path: `${shots}/alert.png` });
});

await check("clicking_a_plot_shows_its_attributes_in_english", async (page) => {
  await ready(page);
  await page.click("#lang");
  assert.equal(await page.locator("button[data-tab=alerts]").innerText(), "Alerts");
  const at = await page.evaluate(() => {
    const f = window.forestMap.queryRenderedFeatures({ layers: ["plots-fill"] })[0];
    const ring = f.geometry.type === "Polygon" ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
    // a point inside: centroid of the first ring's vertices is close enough on convex-ish plots
    const c = ring.reduce((a, p) => [a[0] + p[0] / ring.length, a[1] + p[1] / ring.length], [0, 0]);
    const px = window.forestMap.project(c);
    const rect = window.forestMap.getCanvas().getBoundingClientRect();
    return [rect.left + px.x, rect.top + px.y];
  });
  await page.mouse.click(at[0], at[1]);
  await page.waitForSelector(".plot-popup");
  assert.match(await page.locator(".plot-popup").innerText(), /Plot \d{5}\//);
});

await browser.close();
for (const e of errors) console.log(`browser error: ${e}`);
if (errors.length) failed++;
console.log(`test result: ${failed ? "FAILED" : "ok"}. ${passed} passed; ${failed} failed; 0 ignored; 0 measured; 0 filtered out`);
process.exit(failed ? 1 : 0);
