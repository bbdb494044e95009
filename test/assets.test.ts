// Static assets (`[assets]`), Workers' way:
// - resolveAsset / notFoundAsset as pure functions: every html_handling mode
//   over the spellings of a page (/about, /about/, /about.html, /about/index…)
//   and of a folder's index, percent-encoding, bad escapes and dot segments,
//   and not_found_handling's 404.html walk and single-page-application;
// - through a real host (one host, several sites deployed from temp folders):
//   files answered before the function for GET and HEAD with their headers,
//   ETag revalidation, redirects that keep the query, run_worker_first and
//   env.ASSETS.fetch (404, 404-page, 405), single-page-application navigation,
//   .assetsignore, a binary file byte for byte, and deploys that upload only
//   what the host lacks;
// - hostile or broken input: asset uploads that lie about their hash, bad
//   hashes, no token, versions naming files the host lacks or no manifest,
//   traversal-looking paths, a bad html_handling and a missing directory.
import { strict as assert } from "node:assert";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { assetManifest, collectAssets, uploadAssets } from "../bundler/assets.js";
import { ControlClient } from "../bundler/control-client.js";
import { deployProject } from "../bundler/deploy.js";
import { BuildError } from "../bundler/errors.js";
import { BadConfigError } from "../host/errors.js";
import { notFoundAsset, resolveAsset, type AssetsConfig } from "../host/front/assets.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const sha256 = (bytes: string | Uint8Array) => createHash("sha256").update(bytes).digest("hex");

// ---------------------------------------------------------------------------
// resolveAsset / notFoundAsset, pure
// ---------------------------------------------------------------------------

/** A manifest whose hashes are those of the names (the functions never read the bytes). */
function manifest(...paths: string[]): Record<string, string> {
  return Object.fromEntries(paths.map((path) => [path, sha256(path)]));
}

const SITE_FILES = manifest("/index.html", "/about.html", "/blog/index.html", "/css/site.css", "/café.txt", "/menü.html", "/secret.txt");

/** What a path resolves to, in a form a table can spell: the file served, "307 <location>", or null. */
function outcome(mode: AssetsConfig["html_handling"], path: string, files = SITE_FILES): string | null {
  const match = resolveAsset({ files, html_handling: mode }, path);
  if (match === null) return null;
  if (match.kind === "redirect") return `307 ${match.location}`;
  assert.equal(match.hash, files[match.path], `the hash of ${match.path}`);
  assert.equal(match.status, 200);
  return match.path;
}

/** Workers' tables (developers.cloudflare.com/workers/static-assets/routing/advanced/html-handling/). */
const HTML_HANDLING: Record<AssetsConfig["html_handling"], Record<string, string | null>> = {
  "auto-trailing-slash": {
    "/about": "/about.html",
    "/about/": "307 /about",
    "/about.html": "307 /about",
    "/about/index.html": "307 /about",
    "/about/index": "307 /about",
    "/blog": "307 /blog/",
    "/blog/": "/blog/index.html",
    "/blog.html": "307 /blog/",
    "/blog/index.html": "307 /blog/",
    "/blog/index": "307 /blog/",
    "/": "/index.html",
    "/index.html": "307 /",
    "/index": "307 /",
    "/nothing": null,
    "/nothing/": null,
  },
  "force-trailing-slash": {
    "/about": "307 /about/",
    "/about/": "/about.html",
    "/about.html": "307 /about/",
    "/about/index.html": "307 /about/",
    "/about/index": "307 /about/",
    "/blog": "307 /blog/",
    "/blog/": "/blog/index.html",
    "/blog.html": "307 /blog/",
    "/blog/index.html": "307 /blog/",
    "/blog/index": "307 /blog/",
    "/": "/index.html",
    "/index.html": "307 /",
    "/nothing": null,
  },
  "drop-trailing-slash": {
    "/about": "/about.html",
    "/about/": "307 /about",
    "/about.html": "307 /about",
    "/about/index.html": "307 /about",
    "/about/index": "307 /about",
    "/blog": "/blog/index.html",
    "/blog/": "307 /blog",
    "/blog.html": "307 /blog",
    "/blog/index.html": "307 /blog",
    "/blog/index": "307 /blog",
    "/": "/index.html",
    "/index.html": "307 /",
    "/nothing": null,
  },
  none: {
    "/about": null,
    "/about/": null,
    "/about.html": "/about.html",
    "/about/index.html": null,
    "/about/index": null,
    "/blog": null,
    "/blog/": null,
    "/blog.html": null,
    "/blog/index.html": "/blog/index.html",
    "/blog/index": null,
    "/": null,
    "/index.html": "/index.html",
  },
};

describe("resolveAsset: html_handling", () => {
  for (const [mode, table] of Object.entries(HTML_HANDLING) as Array<[AssetsConfig["html_handling"], Record<string, string | null>]>) {
    it(`${mode}: each spelling of a page and of a folder's index`, () => {
      const actual = Object.fromEntries(Object.keys(table).map((path) => [path, outcome(mode, path)]));
      assert.deepEqual(actual, table);
    });
  }

  it("serves a file that is not HTML by its exact name only, in every mode", () => {
    for (const mode of Object.keys(HTML_HANDLING) as Array<AssetsConfig["html_handling"]>) {
      assert.equal(outcome(mode, "/css/site.css"), "/css/site.css", mode);
      assert.equal(outcome(mode, "/css/site.css/"), null, mode);
      assert.equal(outcome(mode, "/css/site"), null, mode);
      assert.equal(outcome(mode, "/CSS/site.css"), null, `${mode}: names are case-sensitive`);
    }
  });

  it("decodes percent-encoded names, and encodes them again in a redirect", () => {
    assert.equal(outcome("auto-trailing-slash", "/caf%C3%A9.txt"), "/café.txt");
    assert.equal(outcome("none", "/caf%C3%A9.txt"), "/café.txt");
    assert.equal(outcome("auto-trailing-slash", "/men%C3%BC"), "/menü.html");
    assert.equal(outcome("auto-trailing-slash", "/men%C3%BC.html"), "307 /men%C3%BC");
  });

  it("matches nothing for a bad escape, a dot segment (plain or encoded), a NUL or a backslash", () => {
    const hostile = ["/%E0%A4%A", "/%", "/caf%C3.txt", "/a/../secret.txt", "/./secret.txt", "/%2e%2e/secret.txt", "/css/..%2fsecret.txt", "/..%2f..%2fetc/passwd", "/secret.txt%00", "/css%5c..%5csecret.txt"];
    for (const mode of Object.keys(HTML_HANDLING) as Array<AssetsConfig["html_handling"]>) {
      for (const path of hostile) assert.equal(outcome(mode, path), null, `${mode} ${path}`);
    }
  });

  it("ignores names inherited from Object.prototype", () => {
    assert.equal(outcome("none", "/__proto__"), null);
    assert.equal(outcome("auto-trailing-slash", "/constructor"), null);
  });

  // Workers' asset server serves a file named exactly ".../index" as it is,
  // and redirects only where the same file would be served.
  it("serves a file named exactly /docs/index (no extension) at /docs/index, as Workers does", () => {
    const files = manifest("/docs/index", "/docs/index.txt");
    for (const mode of ["auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash"] as const) {
      assert.equal(outcome(mode, "/docs/index", files), "/docs/index", mode);
    }
  });

  it("redirects only to a URL that serves the same file, as Workers does", () => {
    // /a.html next to a file named /a: Workers serves /a.html at /a.html, as /a is another file.
    assert.equal(outcome("auto-trailing-slash", "/a.html", manifest("/a", "/a.html")), "/a.html");
    // Both /foo.html and /foo/index.html: each stays reachable.
    const both = manifest("/foo.html", "/foo/index.html");
    assert.equal(outcome("force-trailing-slash", "/foo.html", both), "/foo.html");
    assert.equal(outcome("drop-trailing-slash", "/foo/index.html", both), "/foo/index.html");
  });
});

describe("notFoundAsset: not_found_handling", () => {
  const files = manifest("/index.html", "/404.html", "/docs/404.html", "/docs/guide.html");
  const notFound = (mode: AssetsConfig["not_found_handling"], path: string, given = files) => notFoundAsset({ files: given, not_found_handling: mode }, path);

  it('"404-page": the nearest 404.html walking up, with status 404', () => {
    assert.deepEqual(notFound("404-page", "/docs/x/y"), { kind: "file", path: "/docs/404.html", hash: files["/docs/404.html"], status: 404 });
    assert.deepEqual(notFound("404-page", "/docs/x/"), { kind: "file", path: "/docs/404.html", hash: files["/docs/404.html"], status: 404 });
    assert.deepEqual(notFound("404-page", "/docs"), { kind: "file", path: "/404.html", hash: files["/404.html"], status: 404 });
    assert.deepEqual(notFound("404-page", "/other/deep/path"), { kind: "file", path: "/404.html", hash: files["/404.html"], status: 404 });
    assert.deepEqual(notFound("404-page", "/"), { kind: "file", path: "/404.html", hash: files["/404.html"], status: 404 });
    assert.equal(notFound("404-page", "/docs/x", manifest("/index.html")), null, "no 404.html anywhere");
    assert.equal(notFound("404-page", "/x", manifest("/docs/404.html")), null, "a 404.html below the path is not taken");
  });

  it('"single-page-application": /index.html with status 200, for any path', () => {
    for (const path of ["/some/route", "/", "/%E0%A4%A"]) {
      assert.deepEqual(notFound("single-page-application", path), { kind: "file", path: "/index.html", hash: files["/index.html"], status: 200 }, path);
    }
    assert.equal(notFound("single-page-application", "/x", manifest("/app.html")), null, "no /index.html");
  });

  it('"none": nothing', () => {
    assert.equal(notFound("none", "/docs/x"), null);
  });
});

// ---------------------------------------------------------------------------
// Through a real host
// ---------------------------------------------------------------------------

let scratch: string;
let host: TestHost;

/** Writes a project: atoll.toml (name, main and `config`), then `files` (paths relative to the project). */
async function project(name: string, config: string, files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "atoll.toml"), `name = "${name}"\nmain = "src/index.js"\n${config}`);
  for (const [file, contents] of Object.entries(files)) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), contents);
  }
  return dir;
}

const deploy = (dir: string) => deployProject(dir, { controlUrl: host.controlUrl, token: host.token });
const client = () => new ControlClient({ controlUrl: host.controlUrl, token: host.token });

/**
 * A request with the target and headers sent exactly as given: fetch would
 * normalise /%2e%2e/ and /a/../b, and sets sec-fetch-mode itself ("cors").
 */
function rawRequest(hostName: string, target: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(host.dataUrl);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: "127.0.0.1", port: url.port, path: target, method: init.method ?? "GET", headers: { host: hostName, ...init.headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString() }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end();
  });
}

/** PUT /v1/assets/:hash with raw bytes. */
function putAsset(hash: string, bytes: Uint8Array | string, token: string | null = host.token): Promise<Response> {
  return fetch(`${host.controlUrl}/v1/assets/${hash}`, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: bytes,
  });
}

async function missing(hashes: string[]): Promise<string[]> {
  const response = await host.control("POST", "/v1/assets/missing", { hashes });
  assert.equal(response.status, 200);
  return ((await response.json()) as { missing: string[] }).missing;
}

/**
 * Answers with who it is and what it saw; /via-binding/<path> fetches <path>
 * through env.ASSETS (same method and headers), /first wraps the binding's answer.
 */
const ECHO_FUNCTION = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/via-binding/")) {
      const target = new URL(url.pathname.slice("/via-binding".length) + url.search, url);
      return env.ASSETS.fetch(new Request(target, { method: request.method, headers: request.headers }));
    }
    return new Response("function: " + request.method + " " + url.pathname + url.search, { headers: { "x-from": "function" } });
  },
};
`;

/** Runs before any file: /api/* is its own, everything else is the binding's answer, marked. */
const FIRST_FUNCTION = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/api/")) return new Response("api " + url.pathname, { headers: { "x-from": "function" } });
    const asset = await env.ASSETS.fetch(request);
    const headers = new Headers(asset.headers);
    headers.set("x-from", "function");
    return new Response(asset.body, { status: asset.status, headers });
  },
};
`;

const PAGES = {
  index: "<h1>home</h1>\n",
  about: "<h1>about</h1>\n",
  blog: "<h1>blog</h1>\n",
  css: "body { color: rebeccapurple }\n",
  cafe: "café au lait\n",
  notFound: "<h1>not here</h1>\n",
  docsNotFound: "<h1>no such doc</h1>\n",
};
const BINARY = randomBytes(300 * 1024);

let siteDir: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "atoll-assets-"));
  host = await startTestHost();
  siteDir = await project("site", '[assets]\ndirectory = "./public"\nbinding = "ASSETS"\n', {
    "src/index.js": ECHO_FUNCTION,
    "public/index.html": PAGES.index,
    "public/about.html": PAGES.about,
    "public/blog/index.html": PAGES.blog,
    "public/css/site.css": PAGES.css,
    "public/café.txt": PAGES.cafe,
    "public/random.bin": BINARY,
    "public/empty.txt": "",
    "public/drafts/wip.html": "<h1>not yet</h1>\n",
    "public/js/app.js": "console.log('app');\n",
    "public/js/app.js.map": "{}\n",
    "public/.assetsignore": "# left out of the deploy\ndrafts/\n*.map\n",
  });
  await deploy(siteDir);
  await deploy(
    await project("first", '[assets]\ndirectory = "./public"\nbinding = "ASSETS"\nrun_worker_first = true\nnot_found_handling = "404-page"\n', {
      "src/index.js": FIRST_FUNCTION,
      "public/index.html": PAGES.index,
      "public/404.html": PAGES.notFound,
      "public/docs/404.html": PAGES.docsNotFound,
    }),
  );
  await deploy(
    await project("spa", '[assets]\ndirectory = "./public"\nnot_found_handling = "single-page-application"\n', {
      "src/index.js": ECHO_FUNCTION,
      "public/index.html": PAGES.index,
      "public/app.css": PAGES.css,
    }),
  );
});

after(async () => {
  await host?.stop();
  host?.cleanUp();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const site = (path: string, init?: RequestInit) => host.request("site.localhost", path, init);

/** Asserts that the function answered `response` (it says so in x-from). */
async function assertFunction(response: Response, body: string | RegExp): Promise<void> {
  assert.equal(response.headers.get("x-from"), "function", `the function answers (status ${response.status})`);
  const text = await response.text();
  if (typeof body === "string") assert.equal(text, body);
  else assert.match(text, body);
}

describe("static assets through a host", () => {
  it("answers a GET for a file before the function, with its type, ETag, cache-control and length", async () => {
    for (const [path, contents, type] of [
      ["/", PAGES.index, "text/html; charset=utf-8"],
      ["/about", PAGES.about, "text/html; charset=utf-8"],
      ["/blog/", PAGES.blog, "text/html; charset=utf-8"],
      ["/css/site.css", PAGES.css, "text/css; charset=utf-8"],
      ["/js/app.js", "console.log('app');\n", "text/javascript; charset=utf-8"],
      ["/caf%C3%A9.txt", PAGES.cafe, "text/plain; charset=utf-8"],
    ] as const) {
      const response = await site(path);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get("x-from"), null, `${path}: no function`);
      assert.equal(response.headers.get("content-type"), type, path);
      assert.equal(response.headers.get("etag"), `"${sha256(contents)}"`, path);
      assert.equal(response.headers.get("cache-control"), "public, max-age=0, must-revalidate", path);
      assert.equal(response.headers.get("content-length"), String(Buffer.byteLength(contents)), path);
      assert.equal(await response.text(), contents, path);
    }
  });

  it("answers a HEAD with the GET's headers and no body", async () => {
    const response = await site("/css/site.css", { method: "HEAD" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-from"), null);
    assert.equal(response.headers.get("etag"), `"${sha256(PAGES.css)}"`);
    assert.equal(response.headers.get("content-length"), String(Buffer.byteLength(PAGES.css)));
    assert.equal((await response.arrayBuffer()).byteLength, 0);
  });

  it("serves an empty file", async () => {
    const response = await site("/empty.txt");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-length"), "0");
    assert.equal(response.headers.get("etag"), `"${sha256("")}"`);
    assert.equal(await response.text(), "");
  });

  it("returns a 300 KiB binary file byte for byte, directly and through the binding", async () => {
    for (const path of ["/random.bin", "/via-binding/random.bin"]) {
      const response = await site(path);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get("content-type"), "application/octet-stream", path);
      assert.equal(response.headers.get("etag"), `"${sha256(BINARY)}"`, path);
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.equal(bytes.length, BINARY.length, path);
      assert.ok(bytes.equals(BINARY), `${path}: the same bytes`);
    }
  });

  it("leaves to the function the paths that match no file, and every POST", async () => {
    await assertFunction(await site("/api/things?x=1"), "function: GET /api/things?x=1");
    await assertFunction(await site("/nothing/"), "function: GET /nothing/");
    await assertFunction(await site("/css/site.css", { method: "POST", body: "x" }), "function: POST /css/site.css");
    await assertFunction(await site("/", { method: "POST" }), "function: POST /");
    await assertFunction(await site("/about", { method: "PUT", body: "x" }), "function: PUT /about");
  });

  it("answers 304 to If-None-Match with the file's ETag (strong, weak, in a list or *), and the file to another ETag", async () => {
    const etag = `"${sha256(PAGES.about)}"`;
    for (const given of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const response = await site("/about", { headers: { "if-none-match": given } });
      assert.equal(response.status, 304, given);
      assert.equal(response.headers.get("etag"), etag, given);
      assert.equal(await response.text(), "", given);
    }
    const changed = await site("/about", { headers: { "if-none-match": `"${sha256("older")}"` } });
    assert.equal(changed.status, 200);
    assert.equal(await changed.text(), PAGES.about);
  });

  it("redirects a non-canonical spelling with 307, keeping the query string", async () => {
    for (const [path, location] of [
      ["/about.html?x=1&y=%20z", "/about?x=1&y=%20z"],
      ["/about/", "/about"],
      ["/blog?page=2", "/blog/?page=2"],
      ["/blog/index.html", "/blog/"],
      ["/index.html?utm=a", "/?utm=a"],
    ] as const) {
      const response = await site(path, { redirect: "manual" });
      assert.equal(response.status, 307, path);
      assert.equal(response.headers.get("location"), location, path);
      assert.equal(response.headers.get("x-from"), null, path);
      await response.text();
    }
  });

  it("leaves out what .assetsignore names (and .assetsignore itself): the function answers those paths", async () => {
    const paths = (await collectAssets(join(siteDir, "public"))).map((file) => file.path);
    assert.deepEqual(paths, ["/about.html", "/blog/index.html", "/café.txt", "/css/site.css", "/empty.txt", "/index.html", "/js/app.js", "/random.bin"]);
    await assertFunction(await site("/drafts/wip.html"), "function: GET /drafts/wip.html");
    await assertFunction(await site("/drafts/wip"), "function: GET /drafts/wip");
    await assertFunction(await site("/js/app.js.map"), "function: GET /js/app.js.map");
    await assertFunction(await site("/.assetsignore"), "function: GET /.assetsignore");
  });

  it("env.ASSETS.fetch: a file, a redirect unfollowed, a plain 404 for a missing path, 405 for a POST", async () => {
    const file = await site("/via-binding/css/site.css");
    assert.equal(file.status, 200);
    assert.equal(file.headers.get("etag"), `"${sha256(PAGES.css)}"`);
    assert.equal(await file.text(), PAGES.css);

    const redirect = await site("/via-binding/about.html?q=1", { redirect: "manual" });
    assert.equal(redirect.status, 307);
    assert.equal(redirect.headers.get("location"), "/about?q=1");
    await redirect.text();

    const notFound = await site("/via-binding/no/such/file");
    assert.equal(notFound.status, 404);
    assert.doesNotMatch(await notFound.text(), /<h1>/);

    const posted = await site("/via-binding/css/site.css", { method: "POST", body: "x" });
    assert.equal(posted.status, 405);
    assert.equal(posted.headers.get("allow"), "GET, HEAD");
    await posted.text();
  });

  it("run_worker_first: the function answers / too, and returns the file through env.ASSETS", async () => {
    const first = (path: string, init?: RequestInit) => host.request("first.localhost", path, init);
    const home = await first("/");
    assert.equal(home.status, 200);
    assert.equal(home.headers.get("x-from"), "function");
    assert.equal(home.headers.get("etag"), `"${sha256(PAGES.index)}"`);
    assert.equal(await home.text(), PAGES.index);
    await assertFunction(await first("/api/x"), "api /api/x");
    // Through the binding, not_found_handling = "404-page" applies: the nearest 404.html, status 404.
    const missingDoc = await first("/docs/guide/intro");
    assert.equal(missingDoc.status, 404);
    assert.equal(missingDoc.headers.get("x-from"), "function");
    assert.equal(await missingDoc.text(), PAGES.docsNotFound);
    const missingPage = await first("/elsewhere");
    assert.equal(missingPage.status, 404);
    assert.equal(await missingPage.text(), PAGES.notFound);
  });

  it("single-page-application: a navigation to an unknown path gets /index.html without the function; other requests reach it", async () => {
    const spa = (path: string, init?: RequestInit) => host.request("spa.localhost", path, init);
    // fetch() always sends its own sec-fetch-mode ("cors"): a navigation is sent by hand.
    const navigate = (path: string, method = "GET") => rawRequest("spa.localhost", path, { method, headers: { "sec-fetch-mode": "navigate" } });
    const page = await navigate("/some/route");
    assert.equal(page.status, 200);
    assert.equal(page.headers["x-from"], undefined);
    assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(page.headers.etag, `"${sha256(PAGES.index)}"`);
    assert.equal(page.body, PAGES.index);
    // A file is still itself on a navigation.
    assert.equal((await navigate("/app.css")).body, PAGES.css);
    await assertFunction(await spa("/some/route"), "function: GET /some/route");
    await assertFunction(await spa("/some/route", { headers: { "sec-fetch-mode": "cors" } }), "function: GET /some/route");
    const posted = await navigate("/some/route", "POST");
    assert.equal(posted.headers["x-from"], "function");
    assert.equal(posted.body, "function: POST /some/route");
  });

  it("uploads only what the host lacks: nothing when deploying the same files again, one file when one changed", async () => {
    const files = await collectAssets(join(siteDir, "public"));
    assert.deepEqual(await missing(files.map((file) => file.hash)), []);
    const again = await deploy(siteDir);
    assert.equal(again.unchanged, true, "the same bundle and manifest make no version");
    assert.deepEqual(await uploadAssets(client(), files), { sent: 0, bytes: 0 });

    const dir = await project("fresh", '[assets]\ndirectory = "./public"\n', {
      "src/index.js": ECHO_FUNCTION,
      "public/index.html": PAGES.index,
      "public/unique.txt": `only here ${randomBytes(8).toString("hex")}\n`,
    });
    const collected = await collectAssets(join(dir, "public"));
    const unique = collected.find((file) => file.path === "/unique.txt")!;
    assert.deepEqual(await missing(collected.map((file) => file.hash)), [unique.hash], "index.html is the site's, already there");
    await deploy(dir);
    assert.deepEqual(await missing([unique.hash]), []);
    assert.equal((await host.request("fresh.localhost", "/unique.txt")).status, 200);

    await writeFile(join(dir, "public", "unique.txt"), "changed\n");
    const changed = await collectAssets(join(dir, "public"));
    assert.deepEqual(await uploadAssets(client(), changed), { sent: 1, bytes: Buffer.byteLength("changed\n") });
  });
});

describe("hostile and broken input", () => {
  const bundle = "export default { fetch() { return new Response('x'); } };\n";

  it("PUT /v1/assets/:hash refuses bytes that do not hash to it, and keeps nothing", async () => {
    const claimed = sha256(`the real bytes ${randomBytes(8).toString("hex")}`);
    const response = await putAsset(claimed, "other bytes");
    assert.equal(response.status, 400);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, "ATOLL_BAD_REQUEST");
    assert.match(error.message, new RegExp(sha256("other bytes")));
    assert.deepEqual(await missing([claimed]), [claimed], "not stored");
  });

  it("PUT /v1/assets/:hash stores honest bytes once", async () => {
    const bytes = `honest ${randomBytes(8).toString("hex")}`;
    const hash = sha256(bytes);
    const first = await putAsset(hash, bytes);
    assert.equal(first.status, 201);
    assert.deepEqual(await first.json(), { hash, stored: true, size: Buffer.byteLength(bytes) });
    const second = await putAsset(hash, bytes);
    assert.equal(second.status, 200);
    assert.deepEqual(await second.json(), { hash, stored: false });
    assert.deepEqual(await missing([hash]), []);
  });

  it("refuses malformed hashes", async () => {
    const body = "x";
    for (const hash of ["abc", sha256(body).toUpperCase(), `${sha256(body)}0`, "g".repeat(64), "..%2f..%2fetc"]) {
      const response = await putAsset(hash, body);
      assert.equal(response.status, 400, hash);
      await response.text();
    }
    for (const hashes of [["nothex"], [42], "not a list", [sha256(body).toUpperCase()]]) {
      const response = await host.control("POST", "/v1/assets/missing", { hashes });
      assert.equal(response.status, 400, JSON.stringify(hashes));
      await response.text();
    }
    const notJson = await fetch(`${host.controlUrl}/v1/assets/missing`, { method: "POST", headers: { authorization: `Bearer ${host.token}` }, body: "{" });
    assert.equal(notJson.status, 400);
    await notJson.text();
  });

  it("refuses every asset call without the token, or with a wrong one", async () => {
    const bytes = `unauthorised ${randomBytes(8).toString("hex")}`;
    for (const token of [null, "wrong-token"]) {
      const put = await putAsset(sha256(bytes), bytes, token);
      assert.equal(put.status, 401);
      await put.text();
      const check = await host.control("POST", "/v1/assets/missing", { hashes: [sha256(bytes)] }, token);
      assert.equal(check.status, 401);
      await check.text();
    }
    assert.deepEqual(await missing([sha256(bytes)]), [sha256(bytes)]);
  });

  it("refuses a version whose manifest names a file the host does not hold, naming it", async () => {
    const config = { name: "ghost", main: "src/index.js", assets: { directory: "./public", files: { "/index.html": sha256(PAGES.index), "/ghost.css": sha256(`never uploaded ${randomBytes(8).toString("hex")}`) } } };
    const response = await host.control("PUT", "/v1/scripts/ghost", { config, bundle });
    assert.equal(response.status, 400);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, "ATOLL_BAD_REQUEST");
    assert.match(error.message, /1 static asset\(s\).*\/ghost\.css/);
    assert.doesNotMatch(error.message, /\/index\.html/, "only the missing file is named");
    const probe = await host.request("ghost.localhost", "/");
    assert.equal(probe.status, 404, "no version was made");
    await probe.text();
  });

  it("refuses a version with [assets] but no manifest, or a manifest that is not paths and hashes", async () => {
    const upload = (assets: unknown) => host.control("PUT", "/v1/scripts/ghost", { config: { name: "ghost", main: "src/index.js", assets }, bundle });
    const noFiles = await upload({ directory: "./public" });
    assert.equal(noFiles.status, 400);
    assert.match(((await noFiles.json()) as { error: { message: string } }).error.message, /assets\.files/);
    for (const files of [{ "/x.css": "not-a-hash" }, { "x.css": sha256("x") }, ["/x.css"]]) {
      const response = await upload({ directory: "./public", files });
      assert.equal(response.status, 400, JSON.stringify(files));
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, "ATOLL_BAD_CONFIG", JSON.stringify(files));
      assert.match(error.message, /assets\.files/, JSON.stringify(files));
    }
  });

  it("treats traversal-looking and undecodable paths as no file: the function answers, never a 500", async () => {
    for (const target of ["/..%2f..%2fetc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/css/..%2f..%2fatoll.toml", "/blog/../about.html", "/%E0%A4%A", "/index.html%00", "/css%5csite.css"]) {
      const response = await rawRequest("site.localhost", target);
      assert.equal(response.status, 200, target);
      assert.equal(response.headers["x-from"], "function", target);
      assert.match(response.body, /^function: GET \//, target);
    }
    // Through the binding too: a 404, not a file and not a 500.
    const viaBinding = await rawRequest("site.localhost", "/via-binding/..%2f..%2fatoll.toml");
    assert.equal(viaBinding.status, 404);
  });

  it("rejects a bad html_handling in atoll.toml, naming the key", async () => {
    const dir = await project("bad-html", '[assets]\ndirectory = "./public"\nhtml_handling = "sometimes"\n', { "src/index.js": ECHO_FUNCTION, "public/index.html": PAGES.index });
    await assert.rejects(deploy(dir), (error: unknown) => {
      assert.ok(error instanceof BadConfigError, String(error));
      assert.match(error.message, /assets\.html_handling/);
      return true;
    });
  });

  it("rejects a missing assets directory, naming the folder", async () => {
    const dir = await project("no-dir", '[assets]\ndirectory = "./nowhere"\n', { "src/index.js": ECHO_FUNCTION });
    await assert.rejects(deploy(dir), (error: unknown) => {
      assert.ok(error instanceof BuildError, String(error));
      assert.match(error.message, /nowhere/);
      return true;
    });
    const probe = await host.request("no-dir.localhost", "/");
    assert.equal(probe.status, 404, "nothing was deployed");
    await probe.text();
  });

  it("keeps assetManifest's paths as the URL names them", async () => {
    const files = await collectAssets(join(siteDir, "public"));
    const named = assetManifest(files);
    assert.equal(named["/café.txt"], sha256(PAGES.cafe));
    assert.equal(named["/blog/index.html"], sha256(PAGES.blog));
  });
});
