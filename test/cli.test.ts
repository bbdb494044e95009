// The `atoll` CLI through its public door: `node bin/atoll.js …` as a child
// process. Builds the fixtures and runs the bundles; talks to a stand-in control
// API (a plain HTTP server here) to check what the client commands send and print.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { commands } from "../bundler/commands/index.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const atollBin = join(repoRoot, "bin", "atoll.js");
const fixture = (name: string) => join(repoRoot, "fixtures", name);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `atoll …` with no ATOLL_* variables from the outer environment unless given. */
function atoll(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ATOLL_")) env[key] = value;
  Object.assign(env, options.env);
  return new Promise((resolve) => {
    execFile(process.execPath, [atollBin, ...args], { cwd: options.cwd ?? repoRoot, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function assertFailed(run: Run, ...fragments: string[]): void {
  assert.equal(run.code, 1, `expected exit status 1, got ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  for (const fragment of fragments) assert.ok(run.stderr.includes(fragment), `stderr lacks ${JSON.stringify(fragment)}:\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /\n\s+at .+:\d+:\d+\)?\n/, "no stack trace without ATOLL_DEBUG=1");
}

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "atoll-cli-"));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A throwaway project: files relative to its directory. */
async function project(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(scratch, name);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

interface Handler {
  default: { fetch(request: Request, env: unknown, ctx: unknown): Response | Promise<Response> };
}

/** Builds a fixture with the CLI and imports the bundle (which must need no other module). */
async function buildAndImport(name: string): Promise<{ run: Run; code: string; module: Handler }> {
  const outdir = join(scratch, "out", name);
  const run = await atoll(["build", fixture(name), "--outdir", outdir]);
  assert.equal(run.code, 0, run.stderr);
  const file = join(outdir, "index.js");
  const code = await readFile(file, "utf8");
  return { run, code, module: (await import(pathToFileURL(file).href)) as Handler };
}

const ctx = { waitUntil() {}, passThroughOnException() {} };

describe("atoll build", () => {
  it("bundles hello into a self-contained ES module that answers requests", async () => {
    const { run, code, module } = await buildAndImport("hello");
    assert.match(run.stdout, /^Built hello: .*index\.js {2}\d+ B \(\d+ B gzip\)\n$/);
    assert.doesNotMatch(code, /^\s*import[\s{*"']/m, "no import statements");
    assert.doesNotMatch(code, /\bimport\s*\(/, "no dynamic imports");
    assert.match(code, /export\s*\{[^}]*\bas default\b/);
    const response = await module.default.fetch(new Request("http://hello.localhost/x"), { GREETING: "Hi" }, ctx);
    assert.equal(await response.text(), "Hi from Atoll\n");
  });

  it("bundles the Hono app with hono inside it", async () => {
    const { run, code, module } = await buildAndImport("hono-app");
    assert.match(run.stdout, /^Built hono-app: .* KiB \(.* KiB gzip\)\n$/);
    assert.doesNotMatch(code, /^\s*import[\s{*"']/m);
    const env = { APP_NAME: "test-app" };
    const hello = await module.default.fetch(new Request("http://api.example.test/hello/you"), env, ctx);
    assert.deepEqual(await hello.json(), { hello: "you" });
    assert.equal(hello.headers.get("x-app"), "test-app");
    assert.match(hello.headers.get("x-response-time") ?? "", /^\d+ms$/);

    const post = await module.default.fetch(new Request("http://api.example.test/users/42/posts/7"), env, ctx);
    assert.deepEqual(await post.json(), { user: "42", post: "7" });

    const echo = await module.default.fetch(
      new Request("http://api.example.test/echo", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: [1, 2] }) }),
      env,
      ctx,
    );
    assert.deepEqual(await echo.json(), { received: { a: [1, 2] }, contentType: "application/json" });

    const missing = await module.default.fetch(new Request("http://api.example.test/nope"), env, ctx);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: "not found", method: "GET", path: "/nope" });

    const cached = await module.default.fetch(new Request("http://api.example.test/cached/info"), env, ctx);
    const etag = cached.headers.get("etag");
    assert.ok(etag, "the etag middleware sets an ETag");
    const revalidated = await module.default.fetch(new Request("http://api.example.test/cached/info", { headers: { "if-none-match": etag } }), env, ctx);
    assert.equal(revalidated.status, 304);
  });

  it("bundles echo-stream, which streams both ways", async () => {
    const { module } = await buildAndImport("echo-stream");
    const chunks = await module.default.fetch(new Request("http://echo-stream.localhost/chunks?n=3"), {}, ctx);
    assert.equal(await chunks.text(), "chunk 1 of 3\nchunk 2 of 3\nchunk 3 of 3\n");
    const echo = await module.default.fetch(new Request("http://echo-stream.localhost/echo", { method: "POST", body: "ping" }), {}, ctx);
    assert.equal(await echo.text(), "ping");
  });

  it("bundles static-route and hostile/throws", async () => {
    const { module: assets } = await buildAndImport("static-route");
    const css = await assets.default.fetch(new Request("http://any.test/static/app.css"), {}, ctx);
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    assert.equal((await assets.default.fetch(new Request("http://any.test/static/none"), {}, ctx)).status, 404);

    const { module: hostile } = await buildAndImport("hostile/throws");
    assert.throws(() => hostile.default.fetch(new Request("http://x.test/boom"), {}, ctx), /hostile-throws: thrown on purpose by the fixture \(\/boom\)/);
  });

  it("writes <dir>/dist/index.js by default, for the current directory, and a source map on request", async () => {
    const dir = join(scratch, "hello-copy");
    await cp(fixture("hello"), dir, { recursive: true });
    const run = await atoll(["build", "--sourcemap"], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Built hello: dist\/index\.js /);
    assert.ok((await stat(join(dir, "dist", "index.js"))).isFile());
    const map = JSON.parse(await readFile(join(dir, "dist", "index.js.map"), "utf8")) as { sources: string[] };
    assert.ok(map.sources.some((source) => source.endsWith("src/index.ts")), JSON.stringify(map.sources));
  });

  it("applies [build] minify and define", async () => {
    const dir = await project("defined", {
      "atoll.toml": 'name = "defined"\nmain = "index.js"\n[build]\nminify = true\n[build.define]\nBUILD_MODE = \'"production"\'\n',
      "index.js": "export default { fetch() { return new Response(BUILD_MODE); } };\n",
    });
    const run = await atoll(["build", dir]);
    assert.equal(run.code, 0, run.stderr);
    const code = await readFile(join(dir, "dist", "index.js"), "utf8");
    assert.match(code, /"production"/);
    assert.doesNotMatch(code, /BUILD_MODE/);
    assert.equal(code.trim().split("\n").length, 1, "minified to one line");
  });
});

describe("atoll build: clear errors", () => {
  it("points at file:line:column of a syntax error, with a code frame", async () => {
    const run = await atoll(["build", "fixtures/broken/syntax"]);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      [
        "error: build failed:",
        '  fixtures/broken/syntax/src/index.ts:4:46: error: Expected ")" but found ";"',
        "    2 | export default {",
        "    3 |   fetch(request: Request) {",
        '  > 4 |     return new Response("never" + request.url;',
        "      |                                              ^",
        "",
      ].join("\n"),
    );
  });

  it("shows the code before an error at the end of a file, and the caret under the column with tabs and non-ASCII text", async () => {
    const eof = await project("eof", { "atoll.toml": 'name = "eof"\nmain = "index.ts"\n', "index.ts": 'export default {\n  fetch() {\n    return new Response("hi");\n' });
    const run = await atoll(["build", "."], { cwd: eof });
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      ["error: build failed:", "  index.ts:4:1: error: Unexpected end of file", "    2 |   fetch() {", '    3 |     return new Response("hi");', "  > 4 |", "      | ^", ""].join("\n"),
    );

    const wide = await project("wide", { "atoll.toml": 'name = "wide"\nmain = "index.ts"\n', "index.ts": '\tconst s = "héllo"; const t = ;\nexport default {};\n' });
    const widely = await atoll(["build", "."], { cwd: wide });
    assert.equal(widely.code, 1);
    // esbuild counts the column in UTF-8 bytes (31); the user's editor, and the caret, in characters (30).
    assert.ok(widely.stderr.includes(`  index.ts:1:31: error: Unexpected ";"\n  > 1 | \tconst s = "héllo"; const t = ;\n      | \t${" ".repeat(29)}^\n`), widely.stderr);
  });

  it("shows the other place a note names (a symbol declared twice)", async () => {
    const dir = await project("twice", { "atoll.toml": 'name = "twice"\nmain = "index.ts"\n', "index.ts": 'const a = 1;\nconst a = 2;\nexport default { fetch: () => new Response(String(a)) };\n' });
    const run = await atoll(["build", "."], { cwd: dir });
    assertFailed(run, '  index.ts:2:7: error: The symbol "a" has already been declared\n    1 | const a = 1;\n  > 2 | const a = 2;\n      |       ^\n', "    note: index.ts:1:7: ", "    > 1 | const a = 1;\n        |       ^");
  });

  it("refuses node built-ins, saying where they were imported", async () => {
    const run = await atoll(["build", "fixtures/broken/node-import"]);
    assertFailed(run, 'fixtures/broken/node-import/src/index.ts:2:30: error: Atoll functions cannot import node built-ins: "node:fs"');
    const bare = await project("bare-builtin", {
      "atoll.toml": 'name = "bare-builtin"\nmain = "index.ts"\n',
      "index.ts": 'import { join } from "path";\nexport default { fetch() { return new Response(join("a", "b")); } };\n',
    });
    assertFailed(await atoll(["build", bare]), 'Atoll functions cannot import node built-ins: "path"', "index.ts:1:22");
  });

  it("names both problems of a bad config", async () => {
    const run = await atoll(["build", "fixtures/broken/bad-config"]);
    assertFailed(
      run,
      "unknown key `rouets` in fixtures/broken/bad-config/atoll.toml (did you mean `routes`?)",
      "`limits.cpu_ms` must be a positive integer (milliseconds) in fixtures/broken/bad-config/atoll.toml (got -5)",
    );
  });

  it("says when the entry module has no default export", async () => {
    assertFailed(await atoll(["build", "fixtures/broken/no-default-export"]), "fixtures/broken/no-default-export/src/index.ts has no default export");
  });

  it("reports a TOML syntax error with file, line and column", async () => {
    const dir = await project("bad-toml", { "atoll.toml": 'name = "x"\nmain = "index.ts\n' });
    assertFailed(await atoll(["build", dir]), `${join(dir, "atoll.toml")}:2:`, "TOML syntax error");
  });

  it("says where it looked for atoll.toml and for main", async () => {
    assertFailed(await atoll(["build", "fixtures"]), "no config file at fixtures/atoll.toml");
    const dir = await project("no-main", { "atoll.toml": 'name = "no-main"\nmain = "src/missing.ts"\n' });
    assertFailed(await atoll(["build", dir]), "`main` names", "src/missing.ts, which is not a file");
  });

  it("prints the stack trace with ATOLL_DEBUG=1", async () => {
    const run = await atoll(["build", "fixtures/broken/syntax"], { env: { ATOLL_DEBUG: "1" } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /BuildError: build failed/);
    assert.match(run.stderr, /\n\s+at /);
  });
});

describe("atoll --help", () => {
  const names = commands.map((create) => create().name());

  it("lists every command", async () => {
    const run = await atoll(["--help"]);
    assert.equal(run.code, 0);
    for (const name of names) assert.match(run.stdout, new RegExp(`^  ${name}\\b`, "m"), `${name} missing from:\n${run.stdout}`);
  });

  for (const create of commands) {
    const command = create();
    it(`works for ${command.name()}`, async () => {
      const run = await atoll([command.name(), "--help"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^Usage: atoll ${command.name()} `));
      assert.ok(run.stdout.replace(/\s+/g, " ").includes(command.description()), run.stdout);
      for (const option of command.options) assert.ok(run.stdout.includes(option.long ?? option.flags), `${option.flags} undocumented`);
    });
  }

  it("suggests the command that was meant", async () => {
    const run = await atoll(["deplyo"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /unknown command 'deplyo'/);
    assert.match(run.stderr, /Did you mean deploy\?/);
  });

  it("prints the version", async () => {
    const run = await atoll(["--version"]);
    const manifest = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string };
    assert.equal(run.stdout.trim(), manifest.version);
  });
});

/** A stand-in for the host's control API that records what it receives. */
interface Received {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}

function startFakeControlApi(answer: (request: Received) => { status: number; body: unknown }): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const request: Received = { method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization, body: text ? JSON.parse(text) : undefined };
      received.push(request);
      const { status, body } = answer(request);
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server }));
  });
}

describe("client commands", () => {
  let api: Awaited<ReturnType<typeof startFakeControlApi>>;
  before(async () => {
    api = await startFakeControlApi((request) => {
      if (request.authorization !== "Bearer good-token") return { status: 401, body: { error: { code: "ATOLL_UNAUTHORIZED", message: "missing or wrong bearer token" } } };
      if (request.method === "PUT" && request.url === "/v1/scripts/hello") {
        return { status: 201, body: { name: "hello", version: 3, bundle_bytes: 2048, bundle_gzip_bytes: 700, urls: ["http://hello.localhost:8787/"], created_at: "2025-01-01T00:00:00.000Z" } };
      }
      if (request.method === "PUT") return { status: 409, body: { error: { code: "ATOLL_ROUTE_CONFLICT", message: 'route "api.example.test/*" is already claimed by script "other"' } } };
      if (request.method === "GET" && request.url === "/v1/scripts") {
        return { status: 200, body: { scripts: [{ name: "hello", active_version: 3, routes: [], updated_at: "2025-01-01T00:00:00.000Z" }, { name: "hono-app", active_version: 12, routes: ["api.example.test/*"], updated_at: "2025-01-02T00:00:00.000Z" }] } };
      }
      if (request.method === "DELETE" && request.url === "/v1/scripts/hello") return { status: 200, body: { deleted: "hello" } };
      return { status: 404, body: { error: { code: "ATOLL_NOT_FOUND", message: `script "${request.url.split("/").pop()}" not found` } } };
    });
  });
  after(() => new Promise<void>((resolve) => api.server.close(() => resolve())));

  it("deploy uploads the config and bundle, then prints the version, sizes and URLs", async () => {
    const run = await atoll(["deploy", "fixtures/hello", "-m", "first", "--control-url", api.url, "--token", "good-token"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "Deployed hello version 3  2.0 KiB (700 B gzip)\n  http://hello.localhost:8787/\n");
    const upload = api.received.at(-1)!;
    assert.equal(upload.method, "PUT");
    const body = upload.body as { config: { name: string; vars: unknown; limits: unknown }; bundle: string; message: string };
    assert.equal(body.config.name, "hello");
    assert.deepEqual(body.config.vars, { GREETING: "Hello" });
    assert.deepEqual(body.config.limits, { cpu_ms: 50, memory_mb: 128, wall_ms: 30000, subrequests: 50, request_body_mb: 100, response_body_mb: 5120 });
    assert.match(body.bundle, /from Atoll/);
    assert.equal(body.message, "first");
  });

  it("prints the API's error message and exits 1", async () => {
    assertFailed(await atoll(["deploy", "fixtures/hono-app", "--control-url", api.url, "--token", "good-token"]), 'error: route "api.example.test/*" is already claimed by script "other"');
    assertFailed(await atoll(["list", "--control-url", api.url, "--token", "bad"]), `error: the host at ${api.url} refused the admin token`);
    assertFailed(await atoll(["delete", "ghost", "--control-url", api.url, "--token", "good-token"]), 'error: script "ghost" not found');
  });

  it("takes the URL and token from ATOLL_CONTROL_URL and ATOLL_TOKEN", async () => {
    const run = await atoll(["list"], { env: { ATOLL_CONTROL_URL: api.url, ATOLL_TOKEN: "good-token" } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      ["NAME      VERSION  UPDATED                   ROUTES", "hello     3        2025-01-01T00:00:00.000Z  -", "hono-app  12       2025-01-02T00:00:00.000Z  api.example.test/*", ""].join("\n"),
    );
    const json = await atoll(["list", "--json"], { env: { ATOLL_CONTROL_URL: api.url, ATOLL_TOKEN: "good-token" } });
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, 2);
  });

  it("reads the token from <data-dir>/admin-token", async () => {
    const cwd = await project("with-token", { ".atoll/admin-token": "good-token\n", "elsewhere/admin-token": "good-token\n" });
    const run = await atoll(["delete", "hello", "--control-url", api.url], { cwd });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "Deleted hello\n");
    assert.equal(api.received.at(-1)!.authorization, "Bearer good-token");
    const other = await atoll(["delete", "hello", "--control-url", api.url, "--data-dir", join(cwd, "elsewhere")]);
    assert.equal(other.code, 0, other.stderr);
  });

  it("says where it looked when there is no token", async () => {
    const cwd = await project("no-token", { "README": "no token here\n" });
    const run = await atoll(["list", "--control-url", api.url], { cwd });
    assertFailed(run, "no admin token: log in once (`atoll login --url URL`), pass --token, set ATOLL_TOKEN", join(cwd, ".atoll", "admin-token"));
  });

  it("says when the control API cannot be reached", async () => {
    const closed = await startFakeControlApi(() => ({ status: 500, body: {} }));
    await new Promise<void>((resolve) => closed.server.close(() => resolve()));
    assertFailed(await atoll(["list", "--control-url", closed.url, "--token", "t"]), `cannot reach the control API at ${closed.url}`, "ECONNREFUSED", "is `atoll start` running?");
  });

  it("checks a script name before asking the API", async () => {
    const before = api.received.length;
    assertFailed(await atoll(["delete", "Not_Valid", "--control-url", api.url, "--token", "good-token"]), 'script name "Not_Valid" is not allowed');
    assert.equal(api.received.length, before);
  });

  it("does not upload a project that fails to build", async () => {
    const before = api.received.length;
    assertFailed(await atoll(["deploy", "fixtures/broken/node-import", "--control-url", api.url, "--token", "good-token"]), "cannot import node built-ins");
    assert.equal(api.received.length, before);
  });
});
