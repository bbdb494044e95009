// The ceiling of `npm run bench`: a fixture bundled for Node and served by
// @hono/node-server in a process of its own, no isolate, no IPC.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { parse as parseToml } from "smol-toml";
import { processId, type ProcessId } from "./proc.js";

export interface BareHonoServer {
  /** http://127.0.0.1:<port> */
  url: string;
  process: ProcessId;
  stop(): Promise<void>;
}

/** Bundles the fixture's entry for Node into `workDir` and serves it on 127.0.0.1 (a free port), [vars] as env. */
export async function startBareHono(repoRoot: string, fixture: string, workDir: string): Promise<BareHonoServer> {
  const config = parseToml(readFileSync(join(fixture, "atoll.toml"), "utf8")) as { name: string; main: string; vars?: Record<string, unknown> };
  const appFile = join(workDir, `bare-${config.name}.mjs`);
  await build({ entryPoints: [join(fixture, config.main)], bundle: true, format: "esm", platform: "node", outfile: appFile, logLevel: "warning" });
  const serverFile = join(workDir, `bare-${config.name}-server.mjs`);
  writeFileSync(
    serverFile,
    `import { serve } from ${JSON.stringify(join(repoRoot, "node_modules/@hono/node-server/dist/index.mjs"))};
     import app from ${JSON.stringify(appFile)};
     const env = ${JSON.stringify(config.vars ?? {})}; const s = serve({ fetch: (req) => app.fetch(req, env, { waitUntil() {}, passThroughOnException() {} }), port: 0, hostname: "127.0.0.1" }, (info) => process.send(info.port));`,
  );
  const child = spawn(process.execPath, [serverFile], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (port) => resolve(Number(port)));
    void exited.then(() => reject(new Error(`the bare Hono server for ${config.name} exited before it listened`)));
  });
  const self = processId(child.pid!);
  if (!self) throw new Error(`the bare Hono server for ${config.name} exited after it listened`);
  return {
    url: `http://127.0.0.1:${port}`,
    process: self,
    stop: async () => {
      // Until node has reaped it, the child's pid cannot have been recycled: this is our process.
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    },
  };
}
