// Deploying through a real host: `atoll deploy`, `list` and `delete` against a
// host started in this process, and `atoll start --deploy-fixtures` as a child
// process, each on free loopback ports with a temporary data directory.
import { strict as assert } from "node:assert";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { startHost, type RunningHost } from "../host/main.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const atollBin = join(repoRoot, "bin", "atoll.js");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function atoll(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ATOLL_")) childEnv[key] = value;
  return new Promise((resolve) => {
    execFile(process.execPath, [atollBin, ...args], { cwd: repoRoot, env: { ...childEnv, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

interface Answer {
  status: number;
  text: string;
}

/**
 * GET `http://<host><path>` from this machine's data plane. (Node's fetch drops
 * a Host header, hence node:http.)
 */
function get(dataUrl: string, host: string, path = "/"): Promise<Answer> {
  const { hostname, port } = new URL(dataUrl);
  return new Promise((resolve, reject) => {
    const request = httpGet({ hostname, port, path, headers: { host } }, (response) => {
      let text = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      response.on("error", reject);
    });
    request.on("error", reject);
  });
}

describe("atoll deploy, list and delete against a host", () => {
  let dataDir: string;
  let host: RunningHost;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "atoll-deploy-"));
    host = await startHost({ dataDir, port: 0, hostname: "127.0.0.1", controlPort: 0, workers: 1, log: () => {} });
  });
  after(async () => {
    await host?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("deploys fixtures/hello, which then answers at hello.localhost", async () => {
    const run = await atoll(["deploy", "fixtures/hello", "-m", "from the test", "--control-url", host.controlUrl, "--data-dir", dataDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Deployed hello version 1 {2}\d+ B \(\d+ B gzip\)\n {2}http:\/\/hello\.localhost:\d+\/\n/);

    const response = await get(host.dataUrl, "hello.localhost");
    assert.equal(response.status, 200);
    assert.equal(response.text, "Hello from Atoll\n");
  });

  it("says unchanged, and makes no version, when the bundle and config equal the active version's", async () => {
    const run = await atoll(["deploy", "fixtures/hello", "-m", "again", "--control-url", host.controlUrl, "--token", host.token]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^hello unchanged: version 1 is active with this bundle and config, no version made /);
    const versions = (await (await fetch(`${host.controlUrl}/v1/scripts/hello/versions`, { headers: { authorization: `Bearer ${host.token}` } })).json()) as { versions: unknown[] };
    assert.equal(versions.versions.length, 1);
  });

  it("deploys a Hono app on its route", async () => {
    const run = await atoll(["deploy", "fixtures/hono-app"], { ATOLL_CONTROL_URL: host.controlUrl, ATOLL_TOKEN: host.token });
    assert.equal(run.code, 0, run.stderr);
    const response = await get(host.dataUrl, "api.example.test", "/users/1/posts/2");
    assert.deepEqual(JSON.parse(response.text), { user: "1", post: "2" });
  });

  it("lists what is deployed", async () => {
    const run = await atoll(["list", "--json", "--control-url", host.controlUrl, "--token", host.token]);
    assert.equal(run.code, 0, run.stderr);
    const scripts = JSON.parse(run.stdout) as Array<{ name: string; active_version: number; routes: string[] }>;
    const byName = new Map(scripts.map((script) => [script.name, script]));
    assert.equal(byName.get("hello")?.active_version, 1);
    assert.deepEqual(byName.get("hono-app")?.routes, ["api.example.test/*"]);
  });

  it("reports the host's refusal of a bad token", async () => {
    const run = await atoll(["list", "--control-url", host.controlUrl, "--token", "wrong"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: missing or wrong bearer token/);
  });

  it("deletes a script, which then stops answering", async () => {
    const run = await atoll(["delete", "hello", "--control-url", host.controlUrl, "--token", host.token]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "Deleted hello\n");
    assert.equal((await get(host.dataUrl, "hello.localhost")).status, 404);
    const again = await atoll(["delete", "hello", "--control-url", host.controlUrl, "--token", host.token]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not found/);
  });
});

describe("atoll start --deploy-fixtures", () => {
  it("serves every example fixture and stops cleanly on SIGTERM", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "atoll-start-"));
    const childEnv: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ATOLL_")) childEnv[key] = value;
    const child = spawn(process.execPath, [atollBin, "start", "--port", "0", "--control-port", "0", "--data-dir", dataDir, "--workers", "1", "--deploy-fixtures"], {
      cwd: repoRoot,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`atoll start did not get ready:\n${stdout}\n${stderr}`)), 60_000);
        child.stdout.on("data", () => {
          if (stdout.includes("Press Ctrl+C to stop.")) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then((code) => reject(new Error(`atoll start exited with ${code}:\n${stdout}\n${stderr}`)));
      });
      const dataUrl = /functions: +(http:\/\/\S+)/.exec(stdout)?.[1];
      assert.ok(dataUrl, stdout);
      assert.match(stdout, new RegExp(`admin token: .*admin-token`));
      for (const name of ["echo-stream", "gzip-roundtrip", "hello", "hono-app", "multipart-upload", "static-route"]) assert.match(stdout, new RegExp(`Deployed fixtures/${name} as ${name} version 1 `));
      assert.doesNotMatch(stdout, /broken|hostile/);
      assert.equal(stderr, "");

      assert.equal((await get(dataUrl, "hello.localhost")).text, "Hello from Atoll\n");
      assert.equal((await get(dataUrl, "anything.test", "/static/hello.txt")).text, "static hello\n");

      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      assert.match(stdout, /SIGTERM: stopping…\n/);
      assert.match(stdout, /Stopped\.\n$/);
    } finally {
      child.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
