// Deploying through a real host: `atoll deploy`, `list` and `delete` against a
// host started in this process, and `atoll start --deploy-fixtures` as a child
// process, each on free loopback ports with a temporary data directory.
import { strict as assert } from "node:assert";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { startHost, type RunningHost } from "../host/main.js";
import { freePort } from "./support/ports.js";

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
    assert.match(run.stdout, /^hello unchanged \(version 1 is active\)\n {2}http:\/\/hello\.localhost:\d+\/\n$/);
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
    assert.match(run.stderr, /^error: the host at http:\/\/127\.0\.0\.1:\d+ refused the admin token: use the one in the host.s data directory .*--token or ATOLL_TOKEN\n$/);
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
  interface Started {
    stdout: () => string;
    stderr: () => string;
    dataUrl: string;
    controlUrl: string;
    token: string;
    /** SIGTERM, and its exit code. */
    stop(): Promise<number | null>;
    kill(): void;
  }

  async function startAtoll(dataDir: string, port = 0, onSpawn: () => void = () => {}): Promise<Started> {
    const childEnv: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ATOLL_")) childEnv[key] = value;
    const child = spawn(process.execPath, [atollBin, "start", "--port", String(port), "--control-port", "0", "--data-dir", dataDir, "--workers", "1", "--deploy-fixtures"], {
      cwd: repoRoot,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    onSpawn();
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
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    const dataUrl = /functions: +(http:\/\/\S+)/.exec(stdout)?.[1];
    const controlUrl = /control API: +(http:\/\/\S+)/.exec(stdout)?.[1];
    assert.ok(dataUrl && controlUrl, stdout);
    const token = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
    return {
      stdout: () => stdout,
      stderr: () => stderr,
      dataUrl,
      controlUrl,
      token,
      stop: async () => {
        child.kill("SIGTERM");
        return exited;
      },
      kill: () => child.kill("SIGKILL"),
    };
  }

  const EXAMPLES = ["echo-stream", "gzip-roundtrip", "hello", "hono-app", "multipart-upload", "static-route", "static-site"];

  it("serves every example fixture and stops cleanly on SIGTERM; a restart leaves unchanged examples and a user's script alone", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "atoll-start-"));
    let started: Started | undefined;
    try {
      started = await startAtoll(dataDir);
      const stdout = started.stdout();
      for (const name of EXAMPLES) assert.match(stdout, new RegExp(`Deployed fixtures/${name} as ${name} version 1 `));
      // "Atoll is running" only once it serves: after every example is in.
      assert.ok(stdout.indexOf("Atoll is running") > stdout.lastIndexOf("Deployed fixtures/"), stdout);
      assert.match(stdout, /^ {2}hello: http:\/\/hello\.localhost:\d+\/$/m);
      assert.doesNotMatch(stdout, /:0\//, "the URLs carry the port the data plane got");
      assert.match(stdout, new RegExp(`admin token: .*admin-token`));
      assert.doesNotMatch(stdout, /broken|hostile/);
      assert.equal(started.stderr(), "");
      assert.equal((await get(started.dataUrl, "hello.localhost")).text, "Hello from Atoll\n");
      assert.equal((await get(started.dataUrl, "anything.test", "/static/hello.txt")).text, "static hello\n");
      assert.match((await get(started.dataUrl, "static-site.localhost", "/")).text, /<h1>A static site on Atoll<\/h1>/);
      assert.equal((await get(started.dataUrl, "static-site.localhost", "/api/hello")).text, '{"hello":"from the function","method":"GET"}');
      // A user deploys their own "hono-app" over the example.
      const upload = await fetch(`${started.controlUrl}/v1/scripts/hono-app`, {
        method: "PUT",
        headers: { authorization: `Bearer ${started.token}`, "content-type": "application/json" },
        body: JSON.stringify({ bundle: `export default { fetch: () => new Response("mine") };`, config: { name: "hono-app", main: "index.js" }, message: "my own" }),
      });
      assert.equal(upload.status, 201, await upload.text());

      assert.equal(await started.stop(), 0);
      assert.match(started.stdout(), /SIGTERM: stopping…\n/);
      assert.match(started.stdout(), /Stopped\.\n$/);

      started = await startAtoll(dataDir);
      const again = started.stdout();
      assert.doesNotMatch(again, /Deployed fixtures/, again);
      for (const name of EXAMPLES.filter((name) => name !== "hono-app")) assert.match(again, new RegExp(`^fixtures/${name}: ${name} unchanged \\(version 1 is active\\)$`, "m"));
      assert.match(again, /^fixtures\/hono-app: skipped: hono-app is a script you deployed \(version 2 is active\), left as it is; `atoll delete hono-app` and restart to get the example back$/m);
      assert.equal((await get(started.dataUrl, "hono-app.localhost")).text, "mine");
      // No start made a version: one per example, and the user's on top of hono-app's.
      for (const name of EXAMPLES) {
        const listed = await fetch(`${started.controlUrl}/v1/scripts/${name}/versions`, { headers: { authorization: `Bearer ${started.token}` } });
        const { active_version, versions } = (await listed.json()) as { active_version: number; versions: { message: string | null }[] };
        assert.deepEqual(
          { active_version, messages: versions.map((version) => version.message) },
          name === "hono-app" ? { active_version: 2, messages: ["my own", "atoll start --deploy-fixtures"] } : { active_version: 1, messages: ["atoll start --deploy-fixtures"] },
        );
      }
      assert.match(again, /^  hello: http:\/\/hello\.localhost:\d+\/$/m);
      assert.doesNotMatch(again, /^  hono-app: /m, "the user's script is not listed as an example");
      assert.equal(await started.stop(), 0);
    } finally {
      started?.kill();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("listens only once the examples are deployed: no request ever meets a 404", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "atoll-start-"));
    const port = await freePort();
    const seen: number[] = [];
    let polling = true;
    // From the moment the process is spawned: each attempt is refused (not listening yet) or answered by hello.
    const poll = async () => {
      while (polling) {
        const status = await get(`http://127.0.0.1:${port}`, "hello.localhost").then(
          (answer) => answer.status,
          () => 0,
        );
        if (status !== 0) seen.push(status);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    let poller: Promise<void> | undefined;
    let started: Started | undefined;
    try {
      started = await startAtoll(dataDir, port, () => (poller = poll()));
      await new Promise((resolve) => setTimeout(resolve, 100));
      polling = false;
      await poller;
      assert.ok(seen.length > 0, "some requests were answered");
      assert.deepEqual([...new Set(seen)], [200], `statuses seen: ${seen.join(" ")}`);
      assert.equal(await started.stop(), 0);
    } finally {
      polling = false;
      started?.kill();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
