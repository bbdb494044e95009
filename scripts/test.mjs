// Runs every dist/test/**/*.test.js with node's test runner, one file at a time
// (each file starts its own host and worker processes; the machine has 2 cores).
// Node 20's runner takes no globs, so the files are listed here. Then a second pass runs the
// store-facing host tests again on Redis + S3-compatible storage.
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
if (status !== 0) process.exit(status ?? 1);

// The second pass: the host tests of what the store holds (KV, buckets, versions, canaries, the queue,
// bucket events, the Cache API, static assets) again on Redis and S3-compatible storage (ATOLL_TEST_STORE=redis: each
// file starts a real redis-server and s3rver, see test/support/shared-stores.ts). Skipped, with a line
// saying so, where redis-server is not installed (CI installs it: .ci/run).
const SHARED_STORE_FILES = ["kv.test.js", "assets.test.js", "buckets.test.js", "versions.test.js", "canary.test.js", "triggers-queue.test.js", "triggers-storage.test.js", "cache-api.test.js"];
const shared = files.filter((file) => SHARED_STORE_FILES.some((name) => file.endsWith(`/${name}`)));
if (shared.length > 0) {
  if (spawnSync("redis-server", ["--version"]).status !== 0) {
    if (process.env.CI) {
      console.error("redis-server is not installed, and CI must run the shared-store pass: .ci/run installs it with apt-get");
      process.exit(1);
    }
    console.log(`# shared-store pass skipped: redis-server is not installed (apt-get install redis-server)`);
    process.exit(0);
  }
  console.log(`# shared-store pass: ${shared.length} files again on Redis + S3-compatible storage`);
  const again = spawnSync(process.execPath, ["--no-node-snapshot", "--test", "--test-concurrency=1", ...shared], { stdio: "inherit", env: { ...process.env, ATOLL_TEST_STORE: "redis" } });
  process.exit(again.status ?? 1);
}
process.exit(0);
