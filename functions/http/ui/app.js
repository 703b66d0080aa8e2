// Crateyard's web UI: one script for every page under /ui/. No framework and
// no build step. Pages are built with DOM calls (text is never parsed as
// HTML); the one exception is a README, which the registry rendered and
// sanitised when the crate was published.

const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
const PUBLIC = meta("crateyard-public-url");
const API = meta("crateyard-api-url");
const UI = `${new URL(PUBLIC, location.href).pathname.replace(/\/$/, "")}/ui`;
const main = document.getElementById("main");

// ---- small helpers ---------------------------------------------------------

/** An element with attributes (`on*` take functions) and children. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Only http(s) links from metadata: a manifest is untrusted input. */
function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

const canonical = (name) => name.toLowerCase().replaceAll("-", "_");
// Each part percent-encoded: a `+` in a version travels as %2B, as S3 needs.
const uiPath = (...parts) => `${UI}/${parts.map(encodeURIComponent).join("/")}`;
// A crate named like a repository page is reached with its version in the path.
const RESERVED = new Set(["setup", "upload"]);
const cratePath = (repo, name, version) =>
  version || RESERVED.has(name) ? uiPath(repo, name, version || "latest") : uiPath(repo, name);

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function formatTime(rfc3339) {
  if (!rfc3339) return "unknown";
  const date = new Date(rfc3339);
  return h("time", { datetime: rfc3339 }, date.toISOString().replace("T", " ").slice(0, 16) + " UTC");
}

function setTitle(title) {
  document.title = title ? `${title} · Crateyard` : "Crateyard";
}

// A page load leaves focus where the browser puts it (Tab reaches the skip
// link first); a page redrawn in place moves focus to its content.
let loaded = false;
function render(...children) {
  main.replaceChildren(h("div", {}, children));
  if (loaded) main.focus({ preventScroll: true });
  loaded = true;
}

function status(message, kind = "notice") {
  return h("p", { class: kind, role: kind === "error" ? "alert" : "status" }, message);
}

/** A block of text to copy, with its button. */
function snippet(text, label) {
  const button = h("button", { type: "button", "aria-label": `Copy ${label}` }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
    setTimeout(() => (button.textContent = "Copy"), 2000);
  });
  return h("div", { class: "snippet" }, h("pre", { "aria-label": label }, h("code", {}, text)), button);
}

// ---- session: a token kept in this browser ----------------------------------

const TOKEN_KEY = "crateyard-token";
const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY);
  },
  save(token, remember) {
    (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
  },
};

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** A registry request; errors carry the registry's `errors[0].detail`. */
async function request(url, { method = "GET", body, auth = true, headers = {} } = {}) {
  const token = auth ? session.token : null;
  if (token) headers.Authorization = `Bearer ${token}`;
  // Always revalidate (a 304 is cheap): a page must show a yank at once.
  const response = await fetch(url, { method, body, headers, cache: "no-cache" });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const json = await response.json();
      detail = json.errors?.[0]?.detail || detail;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, detail);
  }
  return response;
}

const getJson = async (url, options) => (await request(url, options)).json();

let me = null;
async function whoAmI() {
  if (!session.token) return null;
  if (!me) {
    try {
      me = await getJson(`${API}/api/v1/me`);
    } catch (e) {
      if (e.status === 401) session.clear();
      return null;
    }
  }
  return me;
}

/** Every repository this browser may read: public ones, and the signed-in user's. */
async function repositories() {
  const signedIn = await whoAmI();
  if (signedIn) return signedIn.repositories;
  const listed = await getJson(`${UI}/repositories.json`, { auth: false });
  return listed.repositories;
}

async function findRepository(name) {
  const repo = (await repositories()).find((r) => r.name === name);
  if (!repo) {
    throw new ApiError(404, session.token
      ? `There is no repository \`${name}\` you can read.`
      : `There is no public repository \`${name}\`. Sign in if it is private.`);
  }
  return repo;
}

/** Private repositories' data needs the token; public data is static. */
const readData = (repo, path) => getJson(`${repo.data}${path}`, { auth: repo.private });
/** A path the registry names below a repository's data, as a URL (a `+` in a version must travel as %2B). */
const dataUrl = (repo, path) => `${repo.data}${path.split("/").map(encodeURIComponent).join("/")}`;

// ---- pages ------------------------------------------------------------------

async function homePage() {
  setTitle("");
  const repos = await repositories();
  const recent = [];
  await Promise.all(
    repos.filter((r) => r.kind === "local").map(async (repo) => {
      try {
        for (const item of await readData(repo, "recent.json")) recent.push({ repo: repo.name, ...item });
      } catch {
        // no publishes yet
      }
    }),
  );
  recent.sort((a, b) => b.published_at.localeCompare(a.published_at));
  render(
    h("h1", {}, "Crateyard"),
    h("h2", {}, "Repositories"),
    repos.length === 0
      ? status("No repositories to show. Sign in to see private ones.")
      : h("ul", { class: "cards" }, repos.map((repo) =>
          h("li", {},
            h("h3", {}, h("a", { href: uiPath(repo.name) }, repo.name)),
            h("p", { class: "muted" }, `${repo.kind} repository`, repo.private ? " · private" : " · public"),
            h("a", { href: uiPath(repo.name, "setup") }, "Set Me Up"),
            repo.kind === "local" ? [" · ", h("a", { href: uiPath(repo.name, "upload") }, "Upload")] : null,
          ))),
    h("h2", {}, "Recently published"),
    recent.length === 0
      ? h("p", { class: "muted" }, "Nothing published yet.")
      : h("ul", { class: "list", id: "recent" }, recent.slice(0, 20).map((item) =>
          h("li", {},
            h("a", { href: cratePath(item.repo, item.name) }, item.name), " ",
            h("span", { class: "badge" }, item.version), " ",
            h("span", { class: "muted" }, `in ${item.repo} · `, formatTime(item.published_at)),
            item.description ? h("div", {}, item.description) : null,
          ))),
  );
}

async function repositoryPage(name) {
  const repo = await findRepository(name);
  setTitle(repo.name);
  let recent = [];
  if (repo.kind === "local") {
    try {
      recent = await readData(repo, "recent.json");
    } catch {
      // nothing published
    }
  }
  render(
    h("h1", {}, repo.name, " ", h("span", { class: "badge" }, repo.kind), repo.private ? [" ", h("span", { class: "badge" }, "private")] : null),
    h("p", {}, h("a", { href: uiPath(repo.name, "setup") }, "Set Me Up"),
      repo.kind === "local" ? [" · ", h("a", { href: uiPath(repo.name, "upload") }, "Upload a crate")] : null),
    repo.members?.length ? h("p", {}, "Members, first match wins: ", repo.members.join(", ")) : null,
    searchForm(repo.name, ""),
    repo.kind === "local" ? [
      h("h2", {}, "Recently published"),
      recent.length === 0 ? h("p", { class: "muted" }, "Nothing published yet.") :
        h("ul", { class: "list" }, recent.map((item) => h("li", {},
          h("a", { href: cratePath(repo.name, item.name) }, item.name), " ",
          h("span", { class: "badge" }, item.version), " ",
          item.description ? h("span", { class: "muted" }, item.description) : null))),
    ] : null,
  );
}

function searchForm(repo, query) {
  return h("form", { role: "search", action: `${UI}/search`, class: "stack" },
    h("label", { for: "page-search" }, repo ? `Search ${repo}` : "Search"),
    h("input", { id: "page-search", name: "q", type: "search", value: query }),
    repo ? h("input", { type: "hidden", name: "repo", value: repo }) : null,
    h("button", { type: "submit" }, "Search"));
}

async function searchPage(params) {
  const query = (params.get("q") || "").trim();
  const only = params.get("repo");
  setTitle(query ? `Search: ${query}` : "Search");
  document.getElementById("search-q").value = query;
  // A virtual repository repeats its members; search each repository once.
  const repos = (await repositories()).filter((r) => (only ? r.name === only : r.kind !== "virtual"));
  const sections = await Promise.all(repos.map(async (repo) => {
    try {
      const url = `${repo.api}/api/v1/crates?q=${encodeURIComponent(query)}&per_page=50`;
      const found = await getJson(url);
      return { repo, crates: found.crates, total: found.meta?.total ?? found.crates.length };
    } catch (e) {
      return { repo, error: e.message };
    }
  }));
  const hits = sections.flatMap((s) => (s.crates || []).map((c) => ({ repo: s.repo.name, ...c })));
  render(
    h("h1", {}, query ? `Results for “${query}”` : "All crates"),
    searchForm(only, query),
    h("p", { role: "status" }, `${hits.length} crate${hits.length === 1 ? "" : "s"} found`),
    h("ul", { class: "list", id: "results" }, hits.map((hit) => h("li", {},
      h("a", { href: cratePath(hit.repo, hit.name) }, hit.name), " ",
      h("span", { class: "badge" }, hit.max_version), " ",
      h("span", { class: "muted" }, `in ${hit.repo}`),
      hit.description ? h("div", {}, hit.description) : null))),
    sections.filter((s) => s.error).map((s) => status(`${s.repo.name}: ${s.error}`, "error")),
  );
}

/** A crate's page data: in the repository, or its first member that has it. */
async function crateData(repo, name) {
  const path = `crates/${canonical(name)}.json`;
  if (repo.kind !== "virtual") return { repo, page: await readData(repo, path) };
  for (const member of repo.members) {
    const memberRepo = (await repositories()).find((r) => r.name === member);
    if (!memberRepo || memberRepo.kind !== "local") continue;
    try {
      return { repo: memberRepo, page: await readData(memberRepo, path) };
    } catch (e) {
      if (e.status !== 404 && e.status !== 403) throw e;
    }
  }
  throw new ApiError(404, "not found");
}

const DEP_KINDS = [["normal", "Dependencies"], ["build", "Build dependencies"], ["dev", "Dev dependencies"]];
const CRATES_IO = ["https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io/"];

function dependencyLink(repoName, dep) {
  const name = dep.package || dep.name;
  if (!dep.registry) return h("a", { href: cratePath(repoName, name) }, name);
  if (CRATES_IO.includes(dep.registry)) return h("a", { href: `https://crates.io/crates/${encodeURIComponent(name)}`, rel: "noopener" }, name);
  return h("span", { title: dep.registry }, name);
}

async function cratePage(repoName, name, wanted) {
  const repo = await findRepository(repoName);
  let found;
  try {
    found = await crateData(repo, name);
  } catch (e) {
    if (e.status === 404 || e.status === 403) {
      setTitle(name);
      render(h("h1", {}, name), status(`No crate \`${name}\` in ${repo.name}${repo.kind === "remote" ? ": crate pages cover crates published here, not cached ones" : ""}.`, "error"));
      return;
    }
    throw e;
  }
  const { page } = found;
  // A page written before version pages existed holds each version whole.
  const versions = page.versions.map((v) => v.line
    ? { vers: v.line.vers, yanked: v.line.yanked, pubtime: v.line.pubtime, archived_at: v.archived_at, whole: v }
    : v);
  const current = (wanted && wanted !== "latest" && versions.find((v) => v.vers === wanted))
    || versions.find((v) => !v.yanked) || versions[0];
  if (wanted && wanted !== "latest" && current.vers !== wanted) {
    render(status(`${page.name} has no version ${wanted}.`, "error"));
    return;
  }
  let details = current.whole;
  if (!details) {
    try {
      details = await getJson(dataUrl(found.repo, current.details), { auth: found.repo.private });
    } catch (e) {
      if (e.status !== 404) throw e;
      setTitle(`${page.name} ${current.vers}`);
      render(h("h1", {}, page.name, " ", h("span", { class: "badge" }, current.vers)),
        status(`The details of ${page.name} ${current.vers} are missing from the registry's web data; an administrator can rebuild them with Recalculate Index (crateyard reindex).`, "error"));
      return;
    }
  }
  const { line, package: pkg } = details;
  setTitle(`${page.name} ${line.vers}`);
  const links = [["Repository", pkg.repository], ["Homepage", pkg.homepage], ["Documentation", pkg.documentation]]
    .map(([label, url]) => [label, safeUrl(url)]).filter(([, url]) => url);
  const features = { ...line.features, ...(line.features2 || {}) };
  const deps = line.deps || [];
  const registry = repo.name;
  const readme = h("section", { class: "readme", "aria-labelledby": "readme-heading" },
    h("h2", { id: "readme-heading" }, "README"),
    details.readme ? h("p", { class: "muted" }, "Loading the README…") : h("p", { class: "muted" }, "This version has no README."));

  render(
    h("h1", {}, page.name, " ", h("span", { class: "badge", id: "shown-version" }, line.vers),
      current.yanked ? [" ", h("span", { class: "badge yanked", id: "yanked-flag" }, "yanked")] : null,
      current.archived_at ? [" ", h("span", { class: "badge archived", id: "archived-flag" }, "archived")] : null),
    pkg.description ? h("p", { class: "lead" }, pkg.description) : null,
    current.yanked ? status(`Version ${line.vers} is yanked: existing lockfiles keep it, new resolutions skip it.`) : null,
    current.archived_at ? status([`Version ${line.vers} was archived on `, formatTime(current.archived_at),
      " by the repository's retention policy: it still resolves and downloads as before."]) : null,
    h("div", { class: "crate-layout" },
      h("div", {},
        h("h2", {}, "Install"),
        snippet(`cargo add ${page.name}@${line.vers} --registry ${registry}`, "cargo add command"),
        snippet(`${page.name} = { version = "${line.vers}", registry = "${registry}" }`, "Cargo.toml line"),
        h("p", { class: "muted" }, "Needs the registry in ~/.cargo/config.toml: ", h("a", { href: uiPath(registry, "setup") }, "Set Me Up"), "."),
        DEP_KINDS.map(([kind, title]) => {
          const ofKind = deps.filter((d) => (d.kind || "normal") === kind);
          if (ofKind.length === 0) return null;
          return [h("h2", {}, title), h("ul", { class: "list deps", "data-kind": kind }, ofKind.map((dep) => h("li", {},
            dependencyLink(found.repo.name, dep), " ", h("code", {}, dep.req),
            dep.optional ? [" ", h("span", { class: "badge" }, "optional")] : null,
            dep.target ? [" ", h("span", { class: "muted" }, `on ${dep.target}`)] : null,
            dep.package ? [" ", h("span", { class: "muted" }, `as ${dep.name}`)] : null)))];
        }),
        Object.keys(features).length ? [h("h2", {}, "Features"), h("ul", { class: "list", id: "features" },
          Object.entries(features).sort(([a], [b]) => a.localeCompare(b)).map(([feature, enables]) => h("li", {},
            h("code", {}, feature), enables.length ? [" → ", h("span", { class: "muted" }, enables.join(", "))] : null)))] : null,
        readme,
      ),
      h("aside", { "aria-label": "Crate details" },
        h("h2", {}, "Details"),
        h("dl", { class: "meta", id: "details" },
          [
            ["Version", line.vers],
            ["License", pkg.license || (pkg.license_file ? `see ${pkg.license_file}` : "not stated")],
            ...links.map(([label, url]) => [label, h("a", { href: url, rel: "nofollow noopener noreferrer" }, url)]),
            ["Keywords", (pkg.keywords || []).join(", ") || null],
            ["Categories", (pkg.categories || []).join(", ") || null],
            ["Rust version", line.rust_version || null],
            ["Edition", pkg.edition || null],
            ["Published", [formatTime(line.pubtime), details.published_by ? ` by ${details.published_by}` : ""]],
            ["Size", formatSize(details.size)],
            ["Downloads", h("span", { id: "downloads" }, "…")],
            ["Checksum", h("code", { id: "checksum" }, line.cksum)],
            ["Owners", page.owners.join(", ")],
            ["Authors", (pkg.authors || []).join(", ") || null],
          ].filter(([, value]) => value).map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]),
        ),
        h("h2", { id: "versions-heading" }, `Versions (${versions.length})`),
        h("ul", { class: "list", id: "versions", "aria-labelledby": "versions-heading" }, versions.map((v) => h("li", {},
          h("a", { href: cratePath(registry, page.name, v.vers), "aria-current": v === current ? "page" : null }, v.vers),
          v.yanked ? [" ", h("span", { class: "badge yanked" }, "yanked")] : null,
          v.archived_at ? [" ", h("span", { class: "badge archived" }, "archived")] : null, " ",
          h("span", { class: "muted" }, formatTime(v.pubtime)), " ",
          h("span", { class: "muted version-downloads", "data-version": v.vers })))),
      ),
    ),
  );

  // Counts come from the API (downloads are static reads, counted later).
  getJson(`${repo.api}/api/v1/crates/${encodeURIComponent(page.name)}`).then((info) => {
    const counts = new Map(info.versions.map((v) => [v.num, v.downloads]));
    document.getElementById("downloads").textContent =
      `${info.crate.downloads} (${counts.get(line.vers) || 0} of this version; ${info.crate.recent_downloads} in 90 days)`;
    for (const span of document.querySelectorAll(".version-downloads")) {
      span.textContent = `· ${counts.get(span.dataset.version) || 0} downloads`;
    }
  }).catch((e) => {
    document.getElementById("downloads").textContent = `unknown (${e.message})`;
  });

  if (details.readme) {
    try {
      const response = await request(dataUrl(found.repo, details.readme), { auth: found.repo.private });
      const body = h("div", { id: "readme-body" });
      // Rendered from Markdown and sanitised by the registry at publish.
      body.innerHTML = await response.text();
      readme.replaceChildren(readme.firstChild, body);
    } catch (e) {
      readme.replaceChildren(readme.firstChild, status(`The README could not be loaded: ${e.message}`, "error"));
    }
  }
}

function setupSnippets(repo) {
  const index = repo.index;
  const name = repo.name;
  const parts = [];
  if (repo.kind === "remote") {
    parts.push(
      h("h2", {}, "Use it instead of crates.io"),
      h("p", {}, "Source replacement sends every crates.io dependency through this cache:"),
      snippet(`[source.crates-io]\nreplace-with = "${name}"\n\n[source.${name}]\nregistry = "${index}"\n`, "source replacement for ~/.cargo/config.toml"),
      repo.private ? h("p", {}, "For a private mirror, also add the registry below and run cargo login for it.") : null,
    );
  }
  parts.push(
    h("h2", {}, "Configure cargo"),
    h("p", {}, "Add to ", h("code", {}, "~/.cargo/config.toml"), ":"),
    snippet(repo.cargo_config, "registry configuration for ~/.cargo/config.toml"),
    repo.git_cargo_config ? h("p", {}, "Or, for cargo before 1.68 or with ", h("code", {}, "git-fetch-with-cli"), ", the same index as a git repository:") : null,
    repo.git_cargo_config ? snippet(repo.git_cargo_config, "git index configuration for ~/.cargo/config.toml") : null,
    h("h2", {}, "Sign in"),
    h("p", {}, "Paste a token from ", h("a", { href: `${UI}/tokens` }, "your tokens"), " when cargo asks:"),
    snippet(`cargo login --registry ${name}`, "cargo login command"),
    h("h2", {}, "Depend on a crate"),
    snippet(`cargo add CRATE --registry ${name}`, "cargo add command"),
  );
  if (repo.kind !== "remote") {
    parts.push(
      h("h2", {}, "Publish"),
      h("p", {}, "Allow it in the crate's Cargo.toml with ", h("code", {}, `publish = ["${name}"]`), ", then:"),
      snippet(`cargo publish --registry ${name}`, "cargo publish command"),
      h("p", {}, "Or upload a packaged .crate (", h("code", {}, "cargo package"), ") without cargo:"),
      snippet(`curl -X PUT -H "Authorization: Bearer $CRATEYARD_TOKEN" \\\n  --data-binary @target/package/NAME-VERSION.crate \\\n  ${repo.api}/crates/NAME/NAME-VERSION.crate`, "curl upload command"),
    );
  }
  return parts;
}

async function setupPage(repoName) {
  const repo = await findRepository(repoName);
  setTitle(`Set Me Up: ${repo.name}`);
  render(h("h1", {}, `Set Me Up: ${repo.name}`), setupSnippets(repo));
}

/** `NAME-VERSION.crate`: the version starts at the first `-` before a digit. */
function parseCrateFileName(fileName) {
  const match = /^(.+?)-(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)\.crate$/.exec(fileName);
  return match ? { name: match[1], version: match[2] } : null;
}

/**
 * How this deployment takes uploads, as `/api/v1/me` says: the largest
 * `.crate` a direct upload carries (4.5 MB on Lambda, whose 6 MB event
 * limit applies to the base64-encoded body), and whether larger ones can go
 * through a presigned URL. A server that does not say takes files directly.
 */
const uploadLimits = (signedIn) =>
  signedIn.uploads || { direct_max_bytes: Infinity, presigned: false, max_bytes: Infinity };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** PUT to a presigned storage URL, reporting bytes sent (fetch cannot). */
function putWithProgress(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      // S3 answers in XML; its <Message> is the sentence.
      const message = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText || "")?.[1];
      reject(new ApiError(xhr.status, `the storage refused the file (${xhr.status}${message ? `: ${message}` : ""})`));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0,
      "the file could not be sent to the storage (network error, or its CORS rule does not allow this page's address)")));
    xhr.send(file);
  });
}

/** The large-upload path: a presigned URL, the file to storage, then the indexer's verdict. */
async function presignedUpload(repo, file, parsed, limits, result) {
  const line = status(`${file.name} is ${formatSize(file.size)}, over the ${formatSize(limits.direct_max_bytes)} a direct upload carries here: sending it to storage through a presigned URL.`);
  const progress = h("progress", { id: "upload-progress", max: file.size, value: 0, "aria-label": "Upload progress" });
  const sent = h("span", { id: "upload-sent" }, "0 %");
  result.replaceChildren(line, h("p", {}, progress, " ", sent));
  const slot = await getJson(`${repo.api}/api/v1/uploads`, {
    method: "POST",
    body: JSON.stringify({ name: parsed.name, version: parsed.version }),
    headers: { "Content-Type": "application/json" },
  });
  await putWithProgress(slot.url, file, (bytes) => {
    progress.value = bytes;
    sent.textContent = `${Math.floor((bytes / file.size) * 100)} %`;
  });
  progress.removeAttribute("value"); // indeterminate while the registry checks it
  sent.textContent = "";
  line.textContent = `${file.name} uploaded; the registry is checking it…`;
  // The indexer runs on the object's S3 event (seconds); after Lambda's
  // retries a failure lands in a queue and the status stays pending.
  const statusUrl = `${repo.api}/api/v1/uploads/${encodeURIComponent(slot.id)}`;
  const deadline = Date.now() + 15 * 60 * 1000;
  for (let delay = 500; ; delay = Math.min(delay * 1.5, 5000)) {
    await sleep(delay);
    const record = await getJson(statusUrl);
    if (record.status === "published") return record;
    if (record.status === "rejected") throw new ApiError(422, record.detail);
    if (Date.now() > deadline) {
      throw new ApiError(0, `the registry has not finished checking it after 15 minutes; its status stays at ${statusUrl} for a day`);
    }
  }
}

async function uploadPage(repoName) {
  const repo = await findRepository(repoName);
  setTitle(`Upload to ${repo.name}`);
  const signedIn = await whoAmI();
  if (!signedIn) {
    render(h("h1", {}, `Upload to ${repo.name}`), status("Sign in with a token to upload crates."), h("p", {}, h("a", { href: `${UI}/tokens` }, "Sign in")));
    return;
  }
  const limits = uploadLimits(signedIn);
  const result = h("div", { id: "upload-result", "aria-live": "polite" });
  const input = h("input", { id: "crate-file", type: "file", accept: ".crate", required: true });
  const drop = h("div", { class: "drop" }, h("label", { for: "crate-file" }, "Choose a .crate file"), " or drop it here. ", input);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
    }
  });
  const form = h("form", { class: "stack", id: "upload-form" }, drop, h("button", { type: "submit" }, "Upload"));
  const published = (name, version, warnings, computed) => h("div", {},
    status(`Published ${name} ${version}.`, "ok"),
    computed,
    warnings?.length ? status(warnings.join(" ")) : null,
    h("p", {}, h("a", { href: cratePath(repo.name, name, version) }, `Open ${name} ${version}`)),
  );
  const direct = async (file, parsed) => {
    const url = `${repo.api}/crates/${encodeURIComponent(parsed.name)}/${encodeURIComponent(file.name)}`;
    const answer = await getJson(url, { method: "PUT", body: file, headers: { "Content-Type": "application/octet-stream" } });
    const line = answer.index_line;
    const kinds = (kind) => line.deps.filter((d) => (d.kind || "normal") === kind).length;
    result.replaceChildren(published(line.name, line.vers, answer.warnings,
      h("dl", { class: "meta", id: "computed" },
        [["Name", line.name], ["Version", line.vers], ["Checksum", h("code", {}, line.cksum)],
          ["Dependencies", `${kinds("normal")} normal, ${kinds("build")} build, ${kinds("dev")} dev`],
          ["Features", Object.keys({ ...line.features, ...(line.features2 || {}) }).join(", ") || "none"],
          ["Rust version", line.rust_version || "not stated"]]
          .map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]))));
  };
  const large = async (file, parsed) => {
    const record = await presignedUpload(repo, file, parsed, limits, result);
    result.replaceChildren(published(record.name, record.version, record.warnings, null));
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) return;
    const parsed = parseCrateFileName(file.name);
    if (!parsed) {
      result.replaceChildren(status(`"${file.name}" is not named NAME-VERSION.crate, as cargo package names it.`, "error"));
      return;
    }
    if (file.size > limits.max_bytes) {
      result.replaceChildren(status(`${file.name} is ${formatSize(file.size)}; this registry takes a .crate of ${formatSize(limits.max_bytes)} at most.`, "error"));
      return;
    }
    const tooBig = file.size > limits.direct_max_bytes;
    if (tooBig && !limits.presigned) {
      result.replaceChildren(status(`${file.name} is ${formatSize(file.size)}; a direct upload here carries ${formatSize(limits.direct_max_bytes)} at most, and this registry has no large-upload path.`, "error"));
      return;
    }
    result.replaceChildren(status(`Uploading ${file.name}…`));
    try {
      if (tooBig) {
        await large(file, parsed);
      } else {
        try {
          await direct(file, parsed);
        } catch (e) {
          // A ceiling the server did not announce: its 413 names the large-upload path.
          if (e.status !== 413 || !limits.presigned) throw e;
          await large(file, parsed);
        }
      }
    } catch (e) {
      result.replaceChildren(status(`Upload refused: ${e.message}`, "error"));
    }
  });
  render(
    h("h1", {}, `Upload to ${repo.name}`),
    h("p", {}, "The file goes through the same checks as cargo publish; its metadata is computed from the .crate.",
      limits.presigned && Number.isFinite(limits.direct_max_bytes)
        ? ` A file over ${formatSize(limits.direct_max_bytes)} goes straight to storage through a presigned URL, and is checked there.`
        : null),
    form, result,
  );
}

async function tokensPage() {
  setTitle("Tokens");
  const signedIn = await whoAmI();
  if (!signedIn) {
    const message = h("div", { "aria-live": "polite" });
    const form = h("form", { class: "stack", id: "signin-form" },
      h("label", { for: "token-input" }, "Token"),
      h("input", { id: "token-input", type: "password", autocomplete: "off", required: true }),
      h("label", {}, h("input", { type: "checkbox", id: "remember" }), " Keep me signed in on this device"),
      h("button", { type: "submit" }, "Sign in"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      session.save(form.querySelector("#token-input").value.trim(), form.querySelector("#remember").checked);
      me = null;
      if (await whoAmI()) route();
      else message.replaceChildren(status("That token was not accepted: it may be mistyped, revoked or expired.", "error"));
    });
    render(h("h1", {}, "Sign in"),
      h("p", {}, "Sign in with a Crateyard token (", h("code", {}, "crateyard token create --user LOGIN"), " prints one)."),
      form, message);
    return;
  }
  const created = h("div", { "aria-live": "polite", id: "created" });
  const list = h("div", {});
  async function refresh() {
    const { tokens } = await getJson(`${API}/api/v1/tokens`);
    list.replaceChildren(tokens.length === 0 ? h("p", {}, "No tokens.") : h("table", { class: "tokens" },
      h("thead", {}, h("tr", {}, ["Name", "Id", "Created", "Expires", "Last used", ""].map((label, i) =>
        h("th", { scope: "col", class: i >= 2 && i <= 4 ? "optional" : null }, label)))),
      h("tbody", {}, tokens.map((token) => h("tr", {},
        h("td", {}, token.name || h("span", { class: "muted" }, "unnamed")),
        h("td", {}, h("code", {}, token.id), token.id === signedIn.token.id ? " (this session)" : ""),
        h("td", { class: "optional" }, formatTime(token.created_at)),
        h("td", { class: "optional" }, token.expires_at ? formatTime(new Date(token.expires_at * 1000).toISOString()) : "never"),
        h("td", { class: "optional" }, token.last_used_at ? formatTime(new Date(token.last_used_at * 1000).toISOString()) : "never"),
        h("td", {}, h("button", {
          type: "button", class: "danger", "aria-label": `Revoke token ${token.name || token.id}`,
          onclick: async () => {
            if (!confirm(`Revoke ${token.name || token.id}? Anything using it stops working.`)) return;
            await request(`${API}/api/v1/tokens/${encodeURIComponent(token.id)}`, { method: "DELETE" });
            if (token.id === signedIn.token.id) {
              session.clear();
              me = null;
              route();
            } else {
              refresh();
            }
          },
        }, "Revoke")))))));
  }
  const form = h("form", { class: "stack", id: "create-token-form" },
    h("label", { for: "token-name" }, "Name"),
    h("input", { id: "token-name", required: true, placeholder: "laptop, CI…" }),
    h("label", { for: "token-expires" }, "Expires"),
    h("select", { id: "token-expires" }, [["30d", "in 30 days"], ["90d", "in 90 days"], ["365d", "in a year"], ["", "never"]]
      .map(([value, label]) => h("option", { value }, label))),
    h("button", { type: "submit" }, "Create token"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: form.querySelector("#token-name").value.trim() };
    const expires = form.querySelector("#token-expires").value;
    if (expires) body.expires = expires;
    try {
      const answer = await getJson(`${API}/api/v1/tokens`, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
      created.replaceChildren(status("Copy this token now: it is shown only once.", "ok"), snippet(answer.token, "new token"));
      form.reset();
      refresh();
    } catch (e) {
      created.replaceChildren(status(e.message, "error"));
    }
  });
  render(
    h("h1", {}, "Tokens"),
    h("p", {}, "Signed in as ", h("strong", { id: "login" }, signedIn.login), signedIn.admin ? " (admin)" : "", ". ",
      h("button", { type: "button", class: "secondary", onclick: () => { session.clear(); me = null; route(); } }, "Sign out")),
    h("h2", {}, "Create a token"), form, created,
    h("h2", {}, "Your tokens"), list,
  );
  await refresh();
}

// ---- routing ----------------------------------------------------------------

async function route() {
  const account = document.getElementById("account-link");
  const path = location.pathname.startsWith(UI) ? location.pathname.slice(UI.length) : "/";
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    const signedIn = await whoAmI();
    account.textContent = signedIn ? `${signedIn.login} · Tokens` : "Sign in";
    if (parts.length === 0) await homePage();
    else if (parts[0] === "search") await searchPage(new URLSearchParams(location.search));
    else if (parts[0] === "tokens") await tokensPage();
    else if (parts.length === 1) await repositoryPage(parts[0]);
    else if (parts.length === 2 && parts[1] === "setup") await setupPage(parts[0]);
    else if (parts.length === 2 && parts[1] === "upload") await uploadPage(parts[0]);
    else await cratePage(parts[0], parts[1], parts[2]);
  } catch (e) {
    setTitle("Error");
    render(h("h1", {}, "Something went wrong"), status(e.message, "error"),
      e.status === 401 ? h("p", {}, h("a", { href: `${UI}/tokens` }, "Sign in")) : null);
  }
}

route();
