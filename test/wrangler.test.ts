// A Workers project deployed from its own wrangler.toml (or wrangler.json /
// wrangler.jsonc), with no atoll.toml: what the keys become, the one warning
// line per key not taken, problems named by wrangler's keys, and the
// fixtures/workers-links project deployed by `atoll deploy` to a real host,
// typed by `atoll types`, built by `atoll build`, serving Hono and KV and
// running its cron handler.
import { strict as assert } from "node:assert";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadProjectConfig } from "../bundler/project-config.js";
import { translateWranglerConfig, parseWranglerText } from "../bundler/wrangler-config.js";
import { BadConfigError } from "../host/errors.js";
import { atoll, controlArgs, repoRoot } from "./support/cli.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

let scratch: string;
let host: TestHost;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "atoll-wrangler-"));
  host = await startTestHost();
});

after(async () => {
  await host?.stop();
  host?.cleanUp();
  await rm(scratch, { recursive: true, force: true });
});

/** A project folder holding `files` (name → text) and src/index.ts. */
async function project(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(scratch, name);
  await cp(join(repoRoot, "fixtures", "hello", "src"), join(dir, "src"), { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BadConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a BadConfigError");
}

describe("wrangler config translation", () => {
  it("takes the keys whose meaning matches, under atoll.toml's names", () => {
    const { value, warnings } = translateWranglerConfig(
      {
        name: "w",
        main: "src/index.ts",
        compatibility_date: "2025-01-01",
        route: "example.test/api/*",
        routes: [{ pattern: "shop.example.test", custom_domain: true }, { pattern: "example.test/blog/*", zone_name: "example.test" }],
        vars: { A: "1" },
        kv_namespaces: [{ binding: "CACHE", id: "0123abcd", preview_id: "ffff" }],
        r2_buckets: [{ binding: "FILES", bucket_name: "files", preview_bucket_name: "files-dev" }],
        triggers: { crons: ["*/5 * * * *"] },
        limits: { cpu_ms: 20 },
        minify: true,
        define: { DEBUG: "false" },
        rules: [{ type: "Text", globs: ["**/*.md"], fallthrough: true }],
        compatibility_flags: ["url_standard", "nodejs_compat"],
      },
      "wrangler.toml",
    );
    assert.deepEqual(value, {
      name: "w",
      main: "src/index.ts",
      compatibility_date: "2025-01-01",
      vars: { A: "1" },
      routes: ["example.test/api/*", "shop.example.test/*", "example.test/blog/*"],
      kv_namespaces: [{ binding: "CACHE", id: "0123abcd" }],
      buckets: [{ binding: "FILES", bucket_name: "files" }],
      triggers: { crons: ["*/5 * * * *"] },
      limits: { cpu_ms: 20 },
      build: { minify: true, define: { DEBUG: "false" }, rules: [{ type: "Text", globs: ["**/*.md"], fallthrough: true }] },
      compatibility_flags: ["url_standard", "nodejs_compat"],
    });
    assert.deepEqual(warnings, []);
  });

  it("names a KV namespace whose id a template left empty after its binding, with one warning line", () => {
    const { value, warnings } = translateWranglerConfig(
      { name: "w", main: "src/index.ts", kv_namespaces: [{ binding: "SHORTENER_KV", id: "" }, { binding: "Other-KV" }, { binding: "KEPT", id: "abc123" }] },
      "wrangler.toml",
    );
    assert.deepEqual((value as { kv_namespaces: unknown }).kv_namespaces, [
      { binding: "SHORTENER_KV", id: "shortener_kv" },
      { binding: "Other-KV", id: "other-kv" },
      { binding: "KEPT", id: "abc123" },
    ]);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /kv_namespaces\[0\]\.id.*is empty.*named after its binding, `shortener_kv`/);
    assert.match(warnings[1]!, /kv_namespaces\[1\]\.id.*is not set/);
  });

  it("names each key it does not take in one line that says what to do, and the meaningless ones together", () => {
    const { warnings } = translateWranglerConfig(
      {
        name: "w",
        main: "src/index.ts",
        account_id: "abc",
        workers_dev: true,
        d1_databases: [{ binding: "DB" }],
        durable_objects: { bindings: [] },
        services: [{ binding: "AUTH", service: "auth", entrypoint: "AuthRpc" }],
        compatibility_flags: ["nodejs_compat", "some_future_flag"],
        r2_buckets: [{ binding: "FILES", bucket_name: "files", jurisdiction: "eu" }],
        mainn: "typo.ts",
        rules: [{ type: "ESModule", globs: ["**/*.mjs"] }],
      },
      "wrangler.toml",
    );
    assert.deepEqual(warnings, [
      "wrangler.toml: `d1_databases` is not supported: D1 is not supported: keep the data in KV (kv_namespaces) or a bucket (r2_buckets)",
      "wrangler.toml: `durable_objects` is not supported: Durable Objects are not supported: keep state in KV (kv_namespaces) or a bucket (r2_buckets)",
      "wrangler.toml: `mainn` is not a wrangler key Atoll knows: ignored (check its spelling)",
      "wrangler.toml: `r2_buckets[0].jurisdiction` is not supported: ignored",
      "wrangler.toml: `services[0].entrypoint` is not supported (no WorkerEntrypoint classes or RPC): the binding calls the script's default fetch handler",
      "wrangler.toml: `rules[0]` (ESModule) is not needed: esbuild bundles JavaScript modules of either kind",
      'wrangler.toml: `compatibility_flags` holds "some_future_flag", which Atoll does not know: ignored (the runtime behaves as a recent Workers runtime does)',
      "wrangler.toml: ignored, as they mean nothing on a self-hosted host: `account_id`, `workers_dev`",
    ]);
  });

  it("reads JSON with comments and trailing commas, and points at a syntax error", () => {
    assert.deepEqual(parseWranglerText('{\n  // the name\n  "name": "w", /* main */ "main": "a.ts",\n}\n', "wrangler.jsonc"), { name: "w", main: "a.ts" });
    assert.throws(
      () => parseWranglerText('{\n  "name": "w"\n  "main": "a.ts"\n}\n', "wrangler.json"),
      (error: unknown) => error instanceof BadConfigError && error.problems[0] === "wrangler.json:3:3: JSON syntax error: CommaExpected",
    );
  });
});

describe("projects with a wrangler file", () => {
  it("validate as atoll.toml does, with problems named by wrangler's keys", async () => {
    const dir = await project("bad-values", {
      "wrangler.toml": 'name = "Bad_Name"\nmain = "src/index.ts"\n[[r2_buckets]]\nbinding = "FILES"\nbucket_name = "No Spaces"\n',
    });
    const problems = await problemsOf(loadProjectConfig(dir));
    assert.equal(problems.length, 2, problems.join("\n"));
    assert.match(problems[0]!, /^`name` must be 1 to 63 characters of a-z, 0-9 and '-' in .*bad-values\/wrangler\.toml \(got "Bad_Name"\)$/);
    assert.match(problems[1]!, /^`r2_buckets\[0\]\.bucket_name` must be lower-case letters/);
  });

  it("prefer atoll.toml, then wrangler.json, wrangler.jsonc and wrangler.toml, and say what to create when there is none", async () => {
    const both = await project("both", { "atoll.toml": 'name = "from-atoll"\nmain = "src/index.ts"\n', "wrangler.toml": 'name = "from-wrangler"\nmain = "src/index.ts"\n' });
    assert.equal((await loadProjectConfig(both)).config.name, "from-atoll");
    const json = await project("json", { "wrangler.jsonc": '{ "name": "from-jsonc", "main": "src/index.ts", }', "wrangler.toml": 'name = "from-toml"\nmain = "src/index.ts"\n' });
    const loaded = await loadProjectConfig(json);
    assert.equal(loaded.config.name, "from-jsonc");
    assert.equal(loaded.fileName, "wrangler.jsonc");
    const none = await project("none", {});
    const [problem] = await problemsOf(loadProjectConfig(none));
    assert.match(problem!, /^no config file at .*none\/atoll\.toml \(nor a wrangler\.json, wrangler\.jsonc, wrangler\.toml beside it\): create one/);
  });
});

describe("fixtures/workers-links, a Workers project on Hono and KV", () => {
  // Deployed from where it is, so that hono resolves from this repository's node_modules.
  const dir = join(repoRoot, "fixtures", "workers-links");

  it("deploys from its wrangler.toml with atoll deploy, saying in one line what it ignores", async () => {
    const run = await atoll(["deploy", dir, ...controlArgs(host)]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Deployed workers-links version 1 /);
    const warnings = run.stderr.split("\n").filter((line) => line.includes("wrangler.toml:"));
    assert.deepEqual(
      warnings.map((line) => line.replace(/^.*wrangler\.toml: /, "")),
      ["ignored, as they mean nothing on a self-hosted host: `account_id`, `workers_dev`, `observability`"],
      run.stderr,
    );
  });

  it("serves its routes, keeps links in KV and runs its cron handler", async () => {
    const home = await host.request("links.example.test", "/");
    assert.equal(home.status, 200);
    assert.equal(await home.text(), "Links: POST /links to shorten a URL");
    const created = await host.request("workers-links.localhost", "/links", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ url: "https://example.com/a", slug: "ex" }) });
    assert.equal(created.status, 201);
    assert.deepEqual(await created.json(), { slug: "ex", short: "http://workers-links.localhost:" + new URL(host.dataUrl).port + "/ex" });
    const taken = await host.request("links.example.test", "/links", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ url: "https://example.com/b", slug: "ex" }) });
    assert.equal(taken.status, 409);
    const tooLong = await host.request("links.example.test", "/links", { method: "POST", body: JSON.stringify({ url: "https://example.com/b", slug: "x".repeat(33) }) });
    assert.equal(tooLong.status, 400, "MAX_SLUG_LENGTH comes from [vars] as a number");
    const redirect = await host.request("links.example.test", "/ex", { redirect: "manual" });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get("location"), "https://example.com/a");
    const stored = await host.control("GET", "/v1/kv/0f2ac74b498b48028cb68387c421e279/values/link:ex");
    assert.deepEqual(await stored.json(), { url: "https://example.com/a", visits: 1 }, "the namespace is the id of [[kv_namespaces]]");

    const tick = await host.control("POST", "/v1/scripts/workers-links/invoke", { kind: "scheduled" });
    assert.equal(tick.status, 200, await tick.clone().text());
    const stats = await host.request("links.example.test", "/stats");
    assert.deepEqual(await stats.json(), { links: 1, at: "0 * * * *" });
    const script = (await (await host.control("GET", "/v1/scripts/workers-links")).json()) as { config: { limits: { cpu_ms: number } }; schedules: { cron: string }[] };
    assert.equal(script.config.limits.cpu_ms, 100);
    assert.deepEqual(script.schedules.map((schedule) => schedule.cron), ["0 * * * *"]);
  });

  it("gets its Env from atoll types and bundles with atoll build", async () => {
    const envFile = join(scratch, "links-env.d.ts");
    const types = await atoll(["types", dir, "-o", envFile]);
    assert.equal(types.code, 0, types.stderr);
    assert.match(types.stdout, /interface Env with 2 vars, 0 secrets, 1 KV namespace, 0 buckets/);
    const env = await readFile(envFile, "utf8");
    assert.match(env, /^\/\/ Generated by `atoll types` from wrangler\.toml\./);
    const members = env.split("\n").filter((line) => /^ {2}[A-Z]/.test(line)).map((line) => line.trim());
    assert.deepEqual(members, ['SITE_NAME: "Links";', "MAX_SLUG_LENGTH: 32;", "LINKS: KVNamespace;"]);
    assert.match(env, /`\[vars\] SITE_NAME` in wrangler\.toml/);
    const built = await atoll(["build", dir, "--outdir", join(scratch, "links-dist")]);
    assert.equal(built.code, 0, built.stderr);
  });
});
