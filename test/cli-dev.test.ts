// `atoll dev` as a child process on a project in a temporary folder, on free
// ports: it serves the function, redeploys on save (timed), prints build
// errors with file and line while the last good version keeps answering,
// prints one line per invocation and the function's console output, maps
// thrown errors to the TypeScript source, takes secrets from .dev.vars, and
// answers keys on stdin (rebuild, a scheduled run, a storage event, quit).
import { strict as assert } from "node:assert";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot } from "./support/cli.js";
import { loopbackAgent } from "./support/test-host.js";
import { fetch as undiciFetch } from "undici";

const atollBin = join(repoRoot, "bin", "atoll.js");

let dir: string;

/** The project's atoll.toml, with `greeting` in [vars] and `extra` lines at the end of the top-level keys. */
function config(greeting: string, extra = ""): string {
  return `name = "devtest"
main = "src/index.ts"
${extra}
[vars]
GREETING = "${greeting}"

[[buckets]]
binding = "UPLOADS"
bucket_name = "dev-uploads"

[triggers]
crons = ["0 0 1 1 *"]

[[triggers.storage]]
bucket = "dev-uploads"

[assets]
directory = "public"
`;
}
let child: ChildProcessWithoutNullStreams;
let output = "";
let port = 0;

/** Resolves with the first match of `pattern` in the output printed after `from` (a length of `output`). */
function waitForOutput(pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(output.slice(from));
      if (!match) return false;
      clearInterval(timer);
      clearTimeout(timeout);
      resolve(match);
      return true;
    };
    const timer = setInterval(check, 20);
    const timeout = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`no ${pattern} in the output within ${timeoutMs} ms:\n${output.slice(from)}`));
    }, timeoutMs);
    check();
  });
}

async function get(path: string): Promise<{ status: number; text: string }> {
  const response = await undiciFetch(`http://devtest.localhost:${port}${path}`, { dispatcher: loopbackAgent });
  return { status: response.status, text: await response.text() };
}

/** Polls `path` until it answers `text` (a redeploy takes effect). */
async function waitForAnswer(path: string, text: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    last = (await get(path)).text;
    if (last === text) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`${path} still answers ${JSON.stringify(last)}, not ${JSON.stringify(text)}:\n${output}`);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "atoll-dev-"));
  await mkdir(join(dir, "src"));
  await mkdir(join(dir, "public", "static"), { recursive: true });
  await writeFile(join(dir, "public", "static", "hello.txt"), "hello 1");
  await writeFile(join(dir, "atoll.toml"), config("Hello"));
  await writeFile(join(dir, "src", "message.ts"), 'export const message = (greeting: string) => `${greeting} v1`;\n');
  await writeFile(
    join(dir, "src", "index.ts"),
    `import { message } from "./message";

interface Env { GREETING: string; API_KEY?: string }

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/boom") {
      throw new Error("boom from the handler");
    }
    if (path === "/secret") return new Response(env.API_KEY ?? "no secret");
    console.log("serving", path);
    return new Response(message(env.GREETING));
  },
  async scheduled(controller: { cron: string }): Promise<void> {
    if (controller.cron === "* * * * *") throw new Error("this schedule always fails");
    console.log("tick", controller.cron);
  },
  async storage(event: { action: string; bucket: string; key: string }): Promise<void> {
    console.log("storage", event.action, event.bucket + "/" + event.key);
  },
};
`,
  );
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ATOLL_")) env[key] = value;
  child = spawn(process.execPath, [atollBin, "dev", dir, "--port", "0"], { cwd: repoRoot, env, stdio: ["pipe", "pipe", "pipe"] });
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const ready = await waitForOutput(/atoll dev: devtest on http:\/\/127\.0\.0\.1:(\d+)\n.*\n {2}keys: .*\n/, 0, 60_000);
  port = Number(ready[1]);
});

after(async () => {
  if (child.exitCode === null) {
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
  }
  await rm(dir, { recursive: true, force: true });
});

describe("atoll dev", () => {
  it("deploys the function at start and serves it", async () => {
    assert.match(output, /\[dev\] first build: built in \d+ ms, deployed devtest version \d+ in \d+ ms/);
    assert.match(output, new RegExp(`  http://devtest\\.localhost:${port}/\\n`));
    assert.match(output, /keys: b rebuild now · c run the scheduled handler now · s send a storage event · q quit/);
    assert.ok(existsSync(join(dir, ".atoll", "dev", "atoll.db")), "the store is in the project's .atoll/dev");
    assert.deepEqual(await get("/"), { status: 200, text: "Hello v1" });
  });

  it("prints one line per invocation (status, cold or warm, wall and CPU ms) and the function's console output", async () => {
    const from = output.length;
    await get("/logged");
    await waitForOutput(/\[devtest@v\d+\] log: serving \/logged\n/, from);
    await waitForOutput(/devtest@v\d+ GET \/logged 200 (cold|warm) [\d.]+ms \(cpu [\d.]+ms\)\n/, from);
  });

  it("redeploys on save, saying what changed and how long it took", async () => {
    const from = output.length;
    await writeFile(join(dir, "src", "message.ts"), 'export const message = (greeting: string) => `${greeting} v2`;\n');
    const line = await waitForOutput(/\[dev\] (\S+) changed: built in (\d+) ms, deployed devtest version (\d+) in (\d+) ms \((\d+) ms in all\)/, from);
    assert.match(line[1]!, /src\/message\.ts$/);
    const totalMs = Number(line[5]);
    // Half a second is the aim on a quiet machine; the bound leaves room for a busy CI runner.
    assert.ok(totalMs < 3000, `redeploy took ${totalMs} ms`);
    await waitForAnswer("/", "Hello v2");
  });

  it("prints a build error with file and line, and the last good version keeps answering", async () => {
    const from = output.length;
    await writeFile(join(dir, "src", "message.ts"), "export const message = (greeting: string) => {\n  return `${greeting} v3`\n");
    const failure = await waitForOutput(/\[dev\] \S+ changed: the build failed \(version (\d+) keeps serving\):\n {2}(\S+):(\d+):(\d+): error: (.*)\n/, from);
    assert.match(failure[2]!, /src\/message\.ts$/);
    assert.equal(failure[3], "3");
    assert.deepEqual(await get("/"), { status: 200, text: "Hello v2" });

    const fixed = output.length;
    await writeFile(join(dir, "src", "message.ts"), 'export const message = (greeting: string) => `${greeting} v3`;\n');
    await waitForOutput(/\[dev\] \S+ changed: built in/, fixed);
    await waitForAnswer("/", "Hello v3");
  });

  it("maps the stack of a thrown error to the TypeScript source", async () => {
    const from = output.length;
    assert.equal((await get("/boom")).status, 500);
    const line = await waitForOutput(/devtest@v\d+ GET \/boom 500 [\d.]+ms \(cpu [\d.]+ms\) threw: Error: boom from the handler\n(\s+at .*\n)/, from);
    assert.match(line[1]!, /at Object\.fetch \((\S*\/)?src\/index\.ts:9:13\)/);
    assert.doesNotMatch(output.slice(from), /file:\/\/\/devtest\.js|atoll:runtime\.js/);
  });

  it("puts .dev.vars in env as secrets, and redeploys when atoll.toml changes", async () => {
    let from = output.length;
    await writeFile(join(dir, ".dev.vars"), 'API_KEY="from dev vars"\n');
    await waitForOutput(/\[dev\] secrets from \.dev\.vars: API_KEY\n/, from);
    await waitForAnswer("/secret", "from dev vars");

    from = output.length;
    await writeFile(join(dir, "atoll.toml"), config("Howdy"));
    await waitForOutput(/\[dev\] \S*atoll\.toml changed: built in \d+ ms, deployed devtest version \d+/, from);
    await waitForAnswer("/", "Howdy v3");

    from = output.length;
    await writeFile(join(dir, "atoll.toml"), config("Howdy", "routez = []"));
    await waitForOutput(/atoll\.toml changed: atoll\.toml has problems \(version \d+ keeps serving\):\n[\s\S]*unknown key `routez`.*did you mean `routes`/, from);
    assert.equal((await get("/")).text, "Howdy v3");
    from = output.length;
    await writeFile(join(dir, "atoll.toml"), config("Howdy"));
    await waitForOutput(/atoll\.toml changed: the bundle and its config are as deployed: version \d+ keeps serving\n/, from);
  });

  it("runs the scheduled handler on c and sends a storage event on s, with failures mapped to the source", async () => {
    let from = output.length;
    child.stdin.write("c\n");
    await waitForOutput(/\[devtest@v\d+\] log: tick 0 0 1 1 \*\n/, from);
    await waitForOutput(/devtest@v\d+ invoked scheduled ok [\d.]+ms \(cpu [\d.]+ms\)\n/, from);

    from = output.length;
    child.stdin.write("c * * * * *\n");
    const failure = await waitForOutput(/\[dev\] scheduled "\* \* \* \* \*" failed: ATOLL_SCRIPT_THREW: this schedule always fails\n {2}Error: .*\n(.*)\n/, from);
    assert.match(failure[1]!, /at Object\.scheduled \((\S*\/)?src\/index\.ts:\d+:\d+\)/);

    from = output.length;
    child.stdin.write("s images/cat.png\n");
    await waitForOutput(/\[devtest@v\d+\] log: storage put dev-uploads\/images\/cat\.png\n/, from);
    child.stdin.write("s delete:dev-uploads/old.txt\n");
    await waitForOutput(/\[devtest@v\d+\] log: storage delete dev-uploads\/old\.txt\n/, from);
  });

  it("serves the static assets and redeploys when one changes, appears or goes", async () => {
    await waitForAnswer("/static/hello.txt", "hello 1");
    let from = output.length;
    await writeFile(join(dir, "public", "static", "hello.txt"), "hello 2");
    await waitForOutput(/hello\.txt changed: built in \d+ ms, deployed devtest version \d+/, from);
    await waitForAnswer("/static/hello.txt", "hello 2");
    from = output.length;
    await writeFile(join(dir, "public", "static", "new.txt"), "new file");
    await waitForAnswer("/static/new.txt", "new file");
    await rm(join(dir, "public", "static", "new.txt"));
    // Gone from the files, the path is the function's again.
    await waitForAnswer("/static/new.txt", "Howdy v3");
  });

  it("rebuilds on b and quits on q", async () => {
    const from = output.length;
    child.stdin.write("b\n");
    // Nothing changed since the last deploy: the host makes no version, and the session says so.
    await waitForOutput(/\[dev\] b pressed: built in \d+ ms, devtest unchanged \(version \d+ is active\)\n/, from);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.stdin.write("q\n");
    assert.equal(await exited, 0, output);
    assert.match(output, /q: stopping…\nStopped\.\n$/);
    assert.ok(!(await readFile(join(dir, "src", "index.ts"), "utf8")).includes("dist"), "the project's sources are left alone");
  });

  it("listens only once the first build is live: the first request that connects gets the function", async () => {
    const freePort = await new Promise<number>((resolve, reject) => {
      const probe = createServer().once("error", reject);
      probe.listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const dataDir = await mkdtemp(join(tmpdir(), "atoll-dev-listen-"));
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ATOLL_")) env[key] = value;
    // stdin a file, as under a process manager or `atoll dev < /dev/null`: SIGTERM must still stop it.
    const devNull = openSync("/dev/null", "r");
    const early = spawn(process.execPath, [atollBin, "dev", dir, "--port", String(freePort), "--data-dir", dataDir], { cwd: repoRoot, env, stdio: [devNull, "pipe", "pipe"] });
    closeSync(devNull);
    let earlyOutput = "";
    early.stdout!.setEncoding("utf8").on("data", (chunk: string) => (earlyOutput += chunk));
    early.stderr!.setEncoding("utf8").on("data", (chunk: string) => (earlyOutput += chunk));
    try {
      // Knock from the moment the process exists: refused connections are retried, the first answer is kept.
      const until = Date.now() + 60_000;
      let first: { status: number; text: string } | undefined;
      while (!first && Date.now() < until && early.exitCode === null) {
        try {
          const response = await undiciFetch(`http://devtest.localhost:${freePort}/`, { dispatcher: loopbackAgent });
          first = { status: response.status, text: await response.text() };
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      assert.ok(first, `atoll dev never answered:\n${earlyOutput}`);
      assert.equal(first.status, 200, `${first.text}\n${earlyOutput}`);
      assert.match(first.text, /^Howdy v\d+$/, "the project as the session above left it");
    } finally {
      const exited = new Promise<number | null>((resolve) => early.once("exit", (code) => resolve(code)));
      early.kill("SIGTERM");
      const timer = setTimeout(() => early.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      await rm(dataDir, { recursive: true, force: true });
      assert.equal(code, 0, earlyOutput);
      assert.match(earlyOutput, /SIGTERM: stopping…\nStopped\.\n$/);
    }
  });
});
