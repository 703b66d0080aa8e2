// Drives Crateyard's web UI in Debian's Chromium, as a user would, and
// asserts on what the page shows. Started by tests/tests/web_ui.rs, which
// runs the server and publishes the crates named in CRATEYARD_EXPECTED.
//
// Env: CRATEYARD_URL, CRATEYARD_TOKEN, CRATEYARD_UPLOAD (a .crate to upload),
// CRATEYARD_SCREENSHOTS (a directory), CRATEYARD_EXPECTED (JSON, see below),
// CHROMIUM (default /usr/bin/chromium).

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

const URL_ = process.env.CRATEYARD_URL;
const TOKEN = process.env.CRATEYARD_TOKEN;
const UPLOAD = process.env.CRATEYARD_UPLOAD;
const SHOTS = process.env.CRATEYARD_SCREENSHOTS;
// { widget: { "0.1.0": cksum, "0.2.0": cksum }, private_repo, private_crate, remote_repo }
const EXPECTED = JSON.parse(process.env.CRATEYARD_EXPECTED);
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: URL_ });
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
page.on("dialog", (dialog) => dialog.accept());

let step = "start";
async function shot(name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
const text = (selector) => page.locator(selector).innerText();

/** Every form control has a name a screen reader can announce, and the page one h1. */
async function checkAccessibility() {
  const unlabeled = await page.evaluate(() =>
    [...document.querySelectorAll("input:not([type=hidden]), select, textarea, button")]
      .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || (el.tagName === "BUTTON" && el.textContent.trim())))
      .map((el) => el.outerHTML));
  assert.deepEqual(unlabeled, [], `${step}: controls without a label`);
  // WCAG AA: 4.5:1 for the text of every element that has its own text.
  const lowContrast = await page.evaluate(() => {
    const rgb = (color) => (color.match(/[\d.]+/g) || []).map(Number);
    const luminance = ([r, g, b]) => {
      const lin = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const background = (el) => {
      for (; el; el = el.parentElement) {
        const c = rgb(getComputedStyle(el).backgroundColor);
        if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    return [...document.querySelectorAll("body *")]
      .filter((el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()) && el.getClientRects().length)
      .map((el) => {
        const [l1, l2] = [luminance(rgb(getComputedStyle(el).color)), luminance(background(el))].sort((a, b) => b - a);
        return { text: el.textContent.trim().slice(0, 30), ratio: (l1 + 0.05) / (l2 + 0.05) };
      })
      .filter((e) => e.ratio < 4.5);
  });
  assert.deepEqual(lowContrast, [], `${step}: text below 4.5:1 contrast`);
  assert.equal(await page.locator("h1").count(), 1, `${step}: one h1`);
  // A value the page failed to leave out shows up as the word itself.
  const leaked = await page.evaluate(() => {
    const clone = document.getElementById("main").cloneNode(true);
    clone.querySelector("#readme-body")?.remove();
    return clone.textContent.match(/\b(null|undefined|NaN)\b|\[object Object\]/g);
  });
  assert.equal(leaked, null, `${step}: the page shows ${leaked}`);
  assert.equal(await page.getAttribute("html", "lang"), "en");
}

try {
  step = "home";
  await page.goto(`${URL_}/ui/`);
  await page.locator("#recent").waitFor();
  assert.match(await text("main"), /Repositories[\s\S]*main/);
  assert.match(await text("#recent"), /widget/);
  await checkAccessibility();
  await shot("01-home");

  step = "keyboard: the first Tab offers to skip to the content";
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Skip to content");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "main");

  step = "search by keyword";
  await page.fill("#search-q", "frobnicate");
  await page.press("#search-q", "Enter");
  await page.locator("#results li").first().waitFor();
  assert.equal(await page.locator("#results li").count(), 1, "one crate has the keyword");
  assert.match(await text("#results"), /widget/);
  await checkAccessibility();
  await shot("02-search");

  step = "open a crate page";
  const weight = { bytes: 0, readme: 0 };
  const count = async (response) => {
    const body = await response.body().catch(() => Buffer.alloc(0));
    if (response.url().includes("/ui/readmes/")) weight.readme += body.length;
    else weight.bytes += body.length;
  };
  page.on("response", count);
  await page.click("#results a:text-is('widget')");
  await page.locator("#readme-body").waitFor();
  page.off("response", count);
  assert.equal(new URL(page.url()).pathname, "/ui/main/widget");
  assert.equal(await text("#shown-version"), "0.2.0", "the newest version is shown");
  assert.equal(await text("#checksum"), EXPECTED.widget["0.2.0"], "checksum of the index line");
  const details = await text("#details");
  for (const expected of ["MIT OR Apache-2.0", "frobnicate", "1.70", "alice"]) {
    assert.ok(details.includes(expected), `details show ${expected}: ${details}`);
  }
  // Download counts come from the crate API after the page renders.
  await page.waitForFunction(() => document.getElementById("downloads")?.textContent !== "…");
  assert.match(await text("#downloads"), /^\d+ \(\d+ of this version; \d+ in 90 days\)$/, "downloads shown");
  assert.match(await text("#versions"), /· \d+ downloads/, "each version's downloads");
  const helper = page.locator("ul.deps[data-kind=normal] a:text-is('helper')");
  assert.equal(await helper.getAttribute("href"), "/ui/main/helper", "a dependency links to its page");
  assert.match(await text("ul.deps[data-kind=dev]"), /helper/);
  assert.match(await text("#features"), /fast → helper\/extra/);
  assert.ok(weight.bytes < 200 * 1024, `page weight before the README: ${weight.bytes} bytes`);
  console.log(`crate page: ${weight.bytes} bytes before the README, README ${weight.readme} bytes`);

  step = "the README is sanitised";
  assert.equal(await text("#readme-body h3"), "Widget");
  const hostile = await page.evaluate(() => ({
    scripts: document.querySelectorAll("#readme-body script").length,
    handlers: [...document.querySelectorAll("#readme-body *")].flatMap((el) =>
      [...el.attributes].filter((a) => a.name.startsWith("on")).map((a) => `${el.tagName} ${a.name}`)),
    javascriptLinks: [...document.querySelectorAll("#readme-body [href], #readme-body [src]")]
      .map((el) => el.getAttribute("href") || el.getAttribute("src"))
      .filter((url) => /^\s*javascript:/i.test(url)),
    iframes: document.querySelectorAll("#readme-body iframe").length,
    // The manifest's homepage is `javascript:…`: it must not become a link.
    pageJavascriptLinks: document.querySelectorAll("a[href^='javascript:' i]").length,
    pwned: window.pwned,
  }));
  assert.deepEqual(hostile, { scripts: 0, handlers: [], javascriptLinks: [], iframes: 0, pageJavascriptLinks: 0, pwned: undefined });
  assert.equal(
    await page.locator("#readme-body a:text-is('guide')").getAttribute("href"),
    "https://github.com/acme/widget/blob/HEAD/docs/guide.md",
    "relative links resolve against the repository",
  );
  await checkAccessibility();
  await shot("03-crate-page");

  step = "switch version";
  await page.click("#versions a:text-is('0.1.0')");
  await page.waitForURL("**/ui/main/widget/0.1.0");
  await page.locator("#shown-version:text-is('0.1.0')").waitFor();
  assert.equal(await text("#checksum"), EXPECTED.widget["0.1.0"]);
  assert.equal(await page.locator("ul.deps").count(), 0, "0.1.0 has no dependencies");
  await shot("04-older-version");

  step = "phone-sized screen";
  await page.setViewportSize({ width: 375, height: 740 });
  await page.reload();
  await page.locator("#readme-body").waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px too wide)`);
  await shot("05-crate-page-phone");
  await page.setViewportSize({ width: 1280, height: 900 });

  step = "copy the config snippet";
  await page.goto(`${URL_}/ui/main/setup`);
  await page.click("button[aria-label='Copy registry configuration for ~/.cargo/config.toml']");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, `[registries.main]\nindex = "sparse+${URL_}/main/index/"\ncredential-provider = "cargo:token"\n`);
  const setup = await text("main");
  for (const expected of ["cargo login --registry main", "cargo publish --registry main", "curl -X PUT", `${URL_}/main/crates/NAME/NAME-VERSION.crate`]) {
    assert.ok(setup.includes(expected), `Set Me Up shows ${expected}`);
  }
  await checkAccessibility();
  await shot("06-setup");

  step = "Set Me Up for a remote repository";
  await page.goto(`${URL_}/ui/${EXPECTED.remote_repo}/setup`);
  await page.locator("pre").first().waitFor();
  const replacement = await page.locator("pre[aria-label^='source replacement']").innerText();
  assert.ok(replacement.startsWith(`[source.crates-io]\nreplace-with = "${EXPECTED.remote_repo}"\n`), replacement);
  assert.ok(replacement.includes(`registry = "sparse+${URL_}/${EXPECTED.remote_repo}/api/proxy/index/"`), replacement);
  assert.equal(await page.locator("text=cargo publish").count(), 0, "a remote repository takes no publishes");
  await shot("06b-setup-remote");

  step = "a private repository needs a sign-in";
  await page.goto(`${URL_}/ui/${EXPECTED.private_repo}/${EXPECTED.private_crate}`);
  assert.match(await text("main"), /Sign in if it is private/);

  step = "sign in";
  await page.goto(`${URL_}/ui/tokens`);
  await page.fill("#token-input", TOKEN);
  await page.click("#signin-form button[type=submit]");
  await page.locator("#login").waitFor();
  assert.equal(await text("#login"), "alice");
  await checkAccessibility();

  step = "create a token, shown once, then revoke it";
  await page.fill("#token-name", "from-the-ui");
  await page.click("#create-token-form button[type=submit]");
  const shown = await page.locator("#created pre").innerText();
  assert.match(shown, /^cyd_[0-9a-f]{64}\.[A-Za-z0-9._@-]+$/);
  const check = await fetch(`${URL_}/api/v1/me`, { headers: { Authorization: `Bearer ${shown}` } });
  assert.equal(check.status, 200, "the new token works");
  await page.locator("td:text-is('from-the-ui')").waitFor();
  await shot("07-tokens");
  await page.click("button[aria-label='Revoke token from-the-ui']");
  await page.locator("td:text-is('from-the-ui')").waitFor({ state: "detached" });
  const revoked = await fetch(`${URL_}/api/v1/me`, { headers: { Authorization: `Bearer ${shown}` } });
  assert.equal(revoked.status, 401, "the revoked token is refused");

  step = "a private repository's crate page, signed in";
  await page.goto(`${URL_}/ui/${EXPECTED.private_repo}/${EXPECTED.private_crate}`);
  await page.locator("#shown-version").waitFor();
  assert.match(await text("h1"), new RegExp(EXPECTED.private_crate));

  step = "upload a crate";
  await page.goto(`${URL_}/ui/main/upload`);
  // Dropped on the drop zone, as from a file manager.
  const dropped = await page.evaluateHandle(([bytes, name]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], name));
    return transfer;
  }, [[...readFileSync(UPLOAD)], basename(UPLOAD)]);
  await page.dispatchEvent(".drop", "drop", { dataTransfer: dropped });
  assert.equal(await page.evaluate(() => document.getElementById("crate-file").files[0]?.name), basename(UPLOAD));
  await page.click("#upload-form button[type=submit]");
  await page.locator("#upload-result .ok").waitFor();
  const computed = await text("#computed");
  const sha = createHash("sha256").update(readFileSync(UPLOAD)).digest("hex");
  assert.ok(computed.includes(sha), `the computed checksum is shown: ${computed}`);
  assert.match(await text("#upload-result"), /Published gadget 1\.0\.0/);
  await checkAccessibility();
  await shot("08-upload");

  step = "a file not named like a .crate is refused in the page";
  await page.setInputFiles("#crate-file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
  await page.click("#upload-form button[type=submit]");
  await page.locator("#upload-result .error").waitFor();
  assert.match(await text("#upload-result"), /"notes\.txt" is not named NAME-VERSION\.crate/);

  step = "an upload refused shows why";
  await page.setInputFiles("#crate-file", { name: "gadget-1.0.1.crate", mimeType: "application/octet-stream", buffer: Buffer.from("not a tarball") });
  await page.click("#upload-form button[type=submit]");
  await page.locator("#upload-result .error").waitFor();
  assert.match(await text("#upload-result"), /Upload refused: .*gzip/i);
  await shot("09-upload-refused");

  step = "a yank shows on the page";
  const yank = await fetch(`${URL_}/main/api/v1/crates/widget/0.2.0/yank`, { method: "DELETE", headers: { Authorization: TOKEN } });
  assert.equal(yank.status, 200);
  await page.goto(`${URL_}/ui/main/widget/0.2.0`);
  await page.locator("#yanked-flag").waitFor();
  assert.match(await text("#versions"), /0\.2\.0 yanked/);
  await shot("10-yanked");
  await page.goto(`${URL_}/ui/main/widget`);
  await page.locator("#shown-version").waitFor();
  assert.equal(await text("#shown-version"), "0.1.0", "the newest version not yanked is shown");

  step = "an archived version is marked";
  // widget 0.1.0 was archived by `crateyard retention run` (keep latest 1).
  await page.locator("#archived-flag").waitFor();
  assert.match(await text("#versions"), /0\.1\.0 archived/);
  assert.match(await text("main"), /archived on \d{4}-\d\d-\d\d \d\d:\d\d UTC by the repository's retention policy: it still resolves and downloads/);
  await shot("11-archived");

  assert.deepEqual(pageErrors, [], "no script errors");
  console.log("web UI: all steps passed");
} catch (error) {
  await shot(`failed-${step.replaceAll(" ", "-")}`).catch(() => {});
  console.error(`web UI step "${step}" failed at ${page.url()}:`);
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
