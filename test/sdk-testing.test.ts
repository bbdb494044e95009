// atoll/sdk/testing through its public door (the package's own export): a
// real host per function, requests, scheduled runs and storage events, KV and
// buckets, vars, secrets, redeploys, stacks mapped to the sources; and the
// README's example test run with node's test runner as a user would.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestHost, type TestHost } from "atoll/sdk/testing";
import { repoRoot } from "./support/cli.js";

const fixture = (name: string) => join(repoRoot, "fixtures", name);


describe("createTestHost with fixtures/hello", () => {
  let host: TestHost;
  before(async () => {
    host = await createTestHost({ dir: fixture("hello") });
  });
  after(() => host?.close());

  it("deploys the function and answers requests by path, URL or Request", async () => {
    assert.equal(host.name, "hello");
    assert.equal(host.version, 1);
    assert.match(host.url, /^http:\/\/hello\.localhost:\d+$/);
    const byPath = await host.fetch("/a?b=c");
    assert.equal(await byPath.text(), "Hello from Atoll\n");
    assert.equal(byPath.headers.get("x-atoll-path"), "/a");
    assert.equal(byPath.headers.get("x-atoll-version"), "1");
    assert.equal((await host.fetch(new URL("/b", host.url))).headers.get("x-atoll-path"), "/b");
    const byRequest = await host.fetch(new Request("https://hello.localhost/c", { method: "POST", body: "ignored" }));
    assert.equal(byRequest.headers.get("x-atoll-path"), "/c");
  });

  it("keeps the host's log lines", async () => {
    await host.fetch("/logged");
    await host.waitForLog(/^hello@v1 GET \/logged 200 (cold|warm) [\d.]+ms \(cpu [\d.]+ms\)$/);
    assert.ok(host.logs.includes(await host.waitForLog("GET /logged")));
    await assert.rejects(host.waitForLog("never logged", 50), /no log line matching never logged within 50 ms/);
  });
});

describe("createTestHost with fixtures/crawler: vars, private fetch, scheduled runs, KV", () => {
  let host: TestHost;
  let page: Server;
  let status = 200;
  before(async () => {
    page = createServer((_request, response) => {
      response.writeHead(status, { "content-type": "text/html" });
      response.end('<html><title>Mock page</title><a href="/one">1</a><a href="https://example.com/two">2</a></html>');
    });
    await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    host = await createTestHost({ dir: fixture("crawler"), vars: { TARGET_URL: url }, allowPrivateFetch: true });
  });
  after(async () => {
    await host?.close();
    page?.close();
  });

  it("runs the scheduled handler, whose results are in KV", async () => {
    const run = await host.scheduled();
    assert.equal(run.ok, true, JSON.stringify(run.error));
    assert.ok(run.cpuMs !== null && run.cpuMs >= 0);
    const latest = await host.kv("CRAWLS").getJSON<{ title: string; links: string[]; cron: string }>("latest");
    assert.equal(latest?.title, "Mock page");
    assert.equal(latest?.cron, "0 * * * *");
    assert.deepEqual(latest?.links.length, 2);
    assert.ok((await host.kv("crawls").keys("crawl:")).length >= 1);
  });

  it("reports a failed run with noRetry, its error and its logs", async () => {
    status = 404;
    const run = await host.scheduled("*/5 * * * *");
    assert.equal(run.ok, false);
    assert.equal(run.noRetry, true);
    assert.equal(run.error?.code, "ATOLL_SCRIPT_THREW");
    assert.match(run.error?.message ?? "", /answered 404/);
    assert.match(run.error?.stack ?? "", /src\/index\.ts:\d+:\d+/);
  });

  it("reads and writes KV from the test", async () => {
    const kv = host.kv("CRAWLS");
    await kv.put("note", "hello", { metadata: { by: "test" } });
    assert.equal(await kv.get("note"), "hello");
    await kv.delete("note");
    assert.equal(await kv.get("note"), null);
  });
});

describe("createTestHost with fixtures/file-processor: storage events and buckets", () => {
  let host: TestHost;
  before(async () => {
    host = await createTestHost(fixture("file-processor"));
  });
  after(() => host?.close());

  it("runs the storage handler for an object the test put", async () => {
    await host.bucket("UPLOADS").put("docs/fox.txt", "the quick brown fox\njumps\n", { contentType: "text/plain" });
    // The put fires the bucket trigger by itself, through the host's queue.
    await host.waitForLog(/\[triggers\] file-processor@v1 storage put uploads\/docs\/fox\.txt #\d+ ok/, 10_000);
    const run = await host.storage({ key: "docs/fox.txt" });
    assert.equal(run.ok, true, JSON.stringify(run.error));
    assert.equal(run.logs.length, 1);
    assert.match(run.logs[0]!.message, /^docs\/fox\.txt: 5 words, sha256 [0-9a-f]{12}…$/);
    const report = JSON.parse((await host.bucket("reports").text("docs/fox.txt.json")) ?? "null") as { words: number; lines: number };
    assert.equal(report.words, 5);
    assert.equal(report.lines, 2);
    const served = await host.fetch("/docs/fox.txt");
    assert.equal(served.headers.get("content-type"), "application/json");
    assert.equal(((await served.json()) as { words: number }).words, 5);
    assert.deepEqual(await host.bucket("UPLOADS").keys("docs/"), ["docs/fox.txt"]);
  });

  it("sends a delete event", async () => {
    await host.bucket("UPLOADS").delete("docs/fox.txt");
    const run = await host.storage({ key: "docs/fox.txt", action: "delete", bucket: "uploads" });
    assert.equal(run.ok, true);
    assert.equal(await host.bucket("REPORTS").get("docs/fox.txt.json"), null);
  });
});

describe("createTestHost with a project of the test's own", () => {
  let dir: string;
  let host: TestHost;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "atoll-testing-"));
    await mkdir(join(dir, "src"));
    await writeFile(join(dir, "atoll.toml"), 'name = "secretive"\nmain = "src/index.ts"\n');
    await writeFile(join(dir, ".dev.vars"), "FROM_FILE=file-value\n");
    await writeFile(
      join(dir, "src", "index.ts"),
      `interface Env { TOKEN: string; FROM_FILE: string }
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (new URL(request.url).pathname === "/boom") {
      throw new Error("boom");
    }
    return new Response(env.TOKEN + " " + env.FROM_FILE);
  },
};
`,
    );
    host = await createTestHost({ dir, secrets: { TOKEN: "t-123" } });
  });
  after(async () => {
    await host?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives the function the test's secrets and those of .dev.vars", async () => {
    assert.equal(await (await host.fetch("/")).text(), "t-123 file-value");
  });

  it("maps a thrown error's stack to the TypeScript source in the logs", async () => {
    assert.equal((await host.fetch("/boom")).status, 500);
    const line = await host.waitForLog("secretive@v1 GET /boom 500");
    assert.match(line, /threw: Error: boom\n\s+at Object\.fetch \(\S*src\/index\.ts:5:13\)/);
  });

  it("redeploys the folder as a new version", async () => {
    await writeFile(join(dir, "src", "index.ts"), "export default { fetch() { return new Response('v2'); } };\n");
    assert.equal(await host.redeploy(), 2);
    assert.equal(host.version, 2);
    assert.equal(await (await host.fetch("/")).text(), "v2");
  });

  it("refuses a folder without atoll.toml, and leaves nothing behind", async () => {
    await assert.rejects(createTestHost({ dir: join(dir, "src") }), /no config file at/);
  });
});

describe("the README's example test", () => {
  it("passes under node --test, importing atoll/sdk/testing as a user would", async () => {
    const test = join(fixture("hello"), "test", "hello.test.mjs");
    assert.ok(existsSync(test));
    const run = await new Promise<{ code: number | null; output: string }>((resolve) => {
      // A child of a test runner would take itself for a nested run: it gets a user's environment.
      const env: NodeJS.ProcessEnv = {};
      for (const [key, value] of Object.entries(process.env)) if (key !== "NODE_TEST_CONTEXT" && !key.startsWith("ATOLL_")) env[key] = value;
      const child = spawn(process.execPath, ["--test", test], { cwd: fixture("hello"), env, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
      child.on("close", (code) => resolve({ code, output }));
    });
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /# pass 3\n/);
    assert.match(run.output, /# fail 0\n/);
  });
});
