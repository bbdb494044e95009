// Atoll as a user gets it from npm: this repository packed (`npm pack`, what
// `npm publish` would upload), installed globally into a scratch prefix
// (`npm install -g`, which builds isolated-vm and applies our timer fix), and
// then used the way the README's install section says: `atoll init` a
// project, `npm install` it, type-check it, `npx atoll dev` it, start a host
// with the examples from the installed package and deploy the project to it
// with the project's own CLI.
//
// The one thing not exercised is the registry itself: atoll-host is not
// published from here, so after checking that `atoll init` writes the
// registry spec, the project's devDependency is pointed at the installed
// package by path (a second install from the tarball would rebuild
// isolated-vm for another three minutes and test nothing new).
//
// Slow by nature (the native build takes minutes on two cores), so it is one
// file with one install.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot } from "./support/cli.js";
import { startHostProcess, type HostProcess } from "./support/host-process.js";
import { loopbackAgent } from "./support/test-host.js";
import { fetch as undiciFetch } from "undici";

const MINUTE = 60_000;

let scratch: string;
/** The global prefix `npm install -g --prefix` installed into. */
let prefix: string;
/** Where the package landed: <prefix>/lib/node_modules/atoll-host. */
let installed: string;
let version: string;
let host: HostProcess | undefined;

/**
 * The environment for npm and atoll: the test's own without what the outer
 * `npm test` exported (npm_config_*, npm_package_* and friends would steer
 * the inner npm: its prefix, its scripts), nor any ATOLL_* variable.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(npm_|ATOLL_|INIT_CWD$)/i.test(key)) env[key] = value;
  env["ATOLL_CONFIG_DIR"] = join(scratch, "config");
  return env;
}

interface Run {
  code: number | null;
  output: string;
}

/** Runs a command to its end, with both streams in `output` (for the assertion messages). */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** GET http://NAME:PORT/PATH with NAME resolved to loopback, as curl treats *.localhost. */
function get(name: string, port: number | string, path: string) {
  return undiciFetch(`http://${name}:${port}${path}`, { dispatcher: loopbackAgent });
}

function succeeded(result: Run, what: string): string {
  assert.equal(result.code, 0, `${what} failed:\n${result.output}`);
  return result.output;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "atoll-package-"));
  prefix = join(scratch, "global");
  installed = join(prefix, "lib", "node_modules", "atoll-host");
  version = (JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
});

after(async () => {
  host?.kill();
  await rm(scratch, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("packs what a user needs and nothing of the repository's own", { timeout: 2 * MINUTE }, async () => {
    // --ignore-scripts: `prepare` would rebuild dist/ under the running tests; `npm test` has just built it.
    const packed = succeeded(await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", scratch], repoRoot, 2 * MINUTE), "npm pack");
    const [report] = JSON.parse(packed.slice(packed.indexOf("["))) as { filename: string; files: { path: string }[] }[];
    assert.equal(report!.filename, `atoll-host-${version}.tgz`);
    const files = report!.files.map((file) => file.path);
    for (const needed of ["bin/atoll.js", "dist/bundler/cli.js", "dist/host/main.js", "sdk/index.ts", "sdk/testing/types.ts", "dist/sdk/testing/index.js", "sdk/globals.d.ts", "scripts/patch-isolated-vm.mjs", "templates/fetch/src/index.ts", "fixtures/hello/src/index.ts", "README.md", "LICENSE"]) {
      assert.ok(files.includes(needed), `${needed} is not in the package`);
    }
    for (const file of files) assert.doesNotMatch(file, /^(test|bench|dist\/test|dist\/bench|\.ci|fixtures\/(hostile|broken|type-tests))\//, `${file} should not be published`);
  });

  it("installs globally: isolated-vm built with the timer fix, the atoll command on PATH", { timeout: 12 * MINUTE }, async () => {
    const tarball = join(scratch, `atoll-host-${version}.tgz`);
    succeeded(await run("npm", ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", tarball], scratch, 11 * MINUTE), "npm install -g");
    assert.ok(existsSync(join(installed, "node_modules", "isolated-vm", "out", "isolated_vm.node")) || existsSync(join(prefix, "lib", "node_modules", "isolated-vm", "out", "isolated_vm.node")), "isolated-vm was not built");
    const patchMark = [join(installed, "node_modules", "isolated-vm"), join(prefix, "lib", "node_modules", "isolated-vm")].find((dir) => existsSync(join(dir, "out", ".atoll-timer-patch")));
    assert.ok(patchMark, "the postinstall did not rebuild isolated-vm with the timer fix");
    assert.equal(succeeded(await run(join(prefix, "bin", "atoll"), ["--version"], scratch, MINUTE), "atoll --version").trim(), version);
  });

  it("scaffolds a project that names the published package, installs, type-checks and runs under atoll dev", { timeout: 8 * MINUTE }, async () => {
    const created = succeeded(await run(join(prefix, "bin", "atoll"), ["init", "first-fn"], scratch, MINUTE), "atoll init");
    assert.match(created, /Created first-fn\//);
    const project = join(scratch, "first-fn");
    const manifestPath = join(project, "package.json");
    const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as { devDependencies: Record<string, string>; allowScripts: Record<string, boolean> };
    // An installed atoll names itself on the registry, through an alias so that the code imports "atoll/sdk".
    assert.equal(manifest.devDependencies["atoll"], `npm:atoll-host@^${version}`);
    assert.equal(manifest.allowScripts["atoll-host"], true);
    assert.equal(manifest.allowScripts["isolated-vm"], true);

    // Not published from here: the installed package by path instead (see the top of this file). npm
    // links such a folder and runs its `prepare`, as it would for a checkout, which an installed
    // package cannot (it has no sources to build): so no scripts. A registry install runs none of
    // atoll's but its postinstall, which the global install above has just run.
    manifest.devDependencies["atoll"] = `file:${installed}`;
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
    succeeded(await run("npm", ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], project, 5 * MINUTE), "npm install in the project");
    assert.ok((await readdir(join(project, "node_modules", ".bin"))).includes("atoll"));
    succeeded(await run(process.execPath, [join(project, "node_modules", "typescript", "bin", "tsc"), "-p", ".", "--noEmit"], project, 2 * MINUTE), "tsc in the project");

    // npx atoll dev: serves the template's function, then stops on SIGTERM.
    const dev = spawn(join(project, "node_modules", ".bin", "atoll"), ["dev", "--port", "0"], { cwd: project, env: cleanEnv(), stdio: ["pipe", "pipe", "pipe"] });
    try {
      let output = "";
      dev.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`atoll dev did not get ready:\n${output}`)), 2 * MINUTE);
        dev.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          output += chunk;
          const ready = /atoll dev: first-fn on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
          if (ready) {
            clearTimeout(timer);
            resolve(Number(ready[1]));
          }
        });
        dev.once("exit", (code) => reject(new Error(`atoll dev exited with ${code}:\n${output}`)));
      });
      const response = await get("first-fn.localhost", port, "/from/dev");
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { message: "Hello from first-fn", path: "/from/dev" });
    } finally {
      const exited = new Promise((resolve) => dev.once("exit", resolve));
      dev.kill("SIGTERM");
      await exited;
    }
  });

  it("starts a host with the examples from the installed package and takes the project's deploy", { timeout: 4 * MINUTE }, async () => {
    host = await startHostProcess(join(scratch, "host-data"), {
      bin: join(installed, "bin", "atoll.js"),
      cwd: scratch,
      env: cleanEnv(),
      workers: 1,
      args: ["--deploy-fixtures"],
      readyTimeoutMs: 2 * MINUTE,
    });
    const port = new URL(host.dataUrl).port;
    const hello = await get("hello.localhost", port, "/");
    assert.equal(hello.status, 200);
    assert.match(await hello.text(), / from Atoll\n$/);

    const project = join(scratch, "first-fn");
    const deployed = succeeded(
      await run(join(project, "node_modules", ".bin", "atoll"), ["deploy", "--control-url", host.controlUrl, "--token", host.token], project, 2 * MINUTE),
      "atoll deploy",
    );
    assert.match(deployed, /first-fn/);
    const response = await get("first-fn.localhost", port, "/deployed");
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { message: "Hello from first-fn", path: "/deployed" });
    assert.equal(await host.stop(), 0);
    host = undefined;
  });
});
