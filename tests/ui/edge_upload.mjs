// The web UI's upload page through the CloudFront test edge, in Debian's
// Chromium: a small .crate goes straight to the API (PUT …/crates/…), one
// over the direct-upload ceiling goes to storage through a presigned URL on
// its own (a cross-origin PUT the bucket's CORS rule allows), and the
// indexer publishes it. Started by tests/tests/edge.rs.
//
// Env: CRATEYARD_URL (the edge), CRATEYARD_TOKEN, CRATEYARD_SMALL and
// CRATEYARD_LARGE (.crate files named NAME-VERSION.crate),
// CRATEYARD_SCREENSHOTS, CHROMIUM (default /usr/bin/chromium).

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";

const URL_ = process.env.CRATEYARD_URL;
const SHOTS = process.env.CRATEYARD_SCREENSHOTS;
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
const requests = [];
page.on("request", (r) => requests.push(`${r.method()} ${r.url()}`));
let step = "start";
const text = (selector) => page.locator(selector).innerText();

async function upload(file) {
  await page.goto(`${URL_}/ui/main/upload`);
  await page.setInputFiles("#crate-file", file);
  await page.click("#upload-form button[type=submit]");
  await page.locator("#upload-result .ok, #upload-result .error").first().waitFor({ timeout: 90_000 });
  return text("#upload-result");
}

try {
  step = "sign in";
  await page.goto(`${URL_}/ui/tokens`);
  await page.fill("#token-input", process.env.CRATEYARD_TOKEN);
  await page.click("#signin-form button[type=submit]");
  await page.locator("#login").waitFor();

  step = "a small crate goes straight to the API";
  const small = process.env.CRATEYARD_SMALL;
  requests.length = 0;
  assert.match(await upload(small), /Published small 1\.0\.0/);
  assert.ok(requests.some((r) => r.startsWith(`PUT ${URL_}/main/crates/small/`)), requests.join("\n"));
  await page.screenshot({ path: join(SHOTS, "edge-01-direct.png"), fullPage: true });

  step = "a large crate goes through a presigned URL";
  const large = process.env.CRATEYARD_LARGE;
  requests.length = 0;
  const result = await upload(large);
  assert.match(result, /Published large 1\.0\.0/, result);
  assert.ok(requests.some((r) => r.startsWith(`POST ${URL_}/main/api/v1/uploads`)), requests.join("\n"));
  assert.ok(!requests.some((r) => r.startsWith(`PUT ${URL_}/`)), `no direct PUT of ${basename(large)}:\n${requests.join("\n")}`);
  assert.ok(requests.some((r) => r.startsWith("PUT ") && !r.startsWith(`PUT ${URL_}`)), `a PUT to storage:\n${requests.join("\n")}`);
  await page.screenshot({ path: join(SHOTS, "edge-02-presigned.png"), fullPage: true });

  assert.deepEqual(pageErrors, [], "no script errors");
  console.log("edge upload page: all steps passed");
} catch (error) {
  await page.screenshot({ path: join(SHOTS, `edge-failed-${step.replaceAll(" ", "-")}.png`), fullPage: true }).catch(() => {});
  console.error(`edge upload step "${step}" failed at ${page.url()}:`);
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
