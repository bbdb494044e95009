// Runs every dist/test/**/*.test.js with node's test runner, one file at a time
// (each file starts its own host and worker processes; the machine has 2 cores).
// Node 20's runner takes no globs, so the files are listed here.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const only = process.argv.slice(2);
const files = readdirSync("dist/test", { recursive: true })
  .map(String)
  .filter((file) => file.endsWith(".test.js"))
  .filter((file) => only.length === 0 || only.some((pattern) => file.includes(pattern)))
  .sort()
  .map((file) => join("dist/test", file));
if (files.length === 0) {
  console.error(`no test files match ${only.join(" ") || "dist/test/**/*.test.js"}: run \`npm run build\` first`);
  process.exit(1);
}
const { status } = spawnSync(process.execPath, ["--no-node-snapshot", "--test", "--test-concurrency=1", ...files], { stdio: "inherit" });
process.exit(status ?? 1);
