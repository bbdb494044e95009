// Runs the real `atoll` binary (bin/atoll.js) as a child process, with no
// ATOLL_* variables from the outer environment unless given, optionally
// feeding its stdin.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const atollBin = join(repoRoot, "bin", "atoll.js");
const EMPTY_CONFIG_DIR = mkdtempSync(join(tmpdir(), "atoll-no-config-"));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function atoll(args: string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ATOLL_")) env[key] = value;
  // No profiles of the user running the tests (atoll login): an empty config folder unless the test gives one.
  env["ATOLL_CONFIG_DIR"] = EMPTY_CONFIG_DIR;
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [atollBin, ...args], { cwd: options.cwd ?? repoRoot, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** `--control-url` and `--token` for a host. */
export function controlArgs(host: { controlUrl: string; token: string }): string[] {
  return ["--control-url", host.controlUrl, "--token", host.token];
}
