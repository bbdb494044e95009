// Run by `npm install` / `npm ci` (postinstall): applies a fix to
// isolated-vm 5.0.4's native timers that upstream has not released yet, and
// rebuilds its addon (about a minute on two cores, once per install).
//
// The bug (laverdet/isolated-vm#572): every call with a `timeout` arms a
// timer; a call that returns first cancels it, but the cancelled timer stays
// at the top of its thread's queue, and the timer thread wakes for it anyway.
// At one call per request that is one thread wake-up per request, about 11 µs
// of CPU on our machines. The fix drops cancelled timers from the head of the
// queue before the thread goes back to sleep.
//
// Idempotent: a patched, built tree is left alone. Fails loudly when the
// source no longer looks as expected (a new isolated-vm version): check
// whether upstream fixed it, then update or delete this script.
//
// It runs wherever atoll is installed: this repository (`npm ci`), a project
// that depends on atoll-host, a global install. isolated-vm is then under
// atoll's node_modules or hoisted beside it, so it is found the way Node
// finds it from here (createRequire), never by a fixed path; and this file
// uses nothing but Node itself (no TypeScript, no devDependencies).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const MARKER = "// atoll: drop cancelled timers (isolated-vm#572)";
const ANCHOR = "\t\t\tnext_timeout = std::chrono::steady_clock::now();\n\t\t\trun_next(lock);\n";
const FIXED = `${ANCHOR}\t\t\t${MARKER}\n\t\t\twhile (!queue.empty() && !queue.top()->is_alive) queue.pop();\n`;

const require = createRequire(import.meta.url);
let root;
try {
  root = dirname(require.resolve("isolated-vm/package.json"));
} catch {
  // Installed without isolated-vm (e.g. `npm ci --omit=optional` of a tool): nothing to patch.
  process.exit(0);
}
const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
const source = join(root, "src", "lib", "timer.cc");
const addon = join(root, "out", "isolated_vm.node");
const stamp = join(root, "out", ".atoll-timer-patch");

const text = readFileSync(source, "utf8");
if (text.includes(MARKER) && existsSync(stamp) && existsSync(addon) && statSync(addon).mtimeMs <= statSync(stamp).mtimeMs + 1) process.exit(0);
if (!text.includes(MARKER)) {
  if (!text.includes(ANCHOR)) {
    console.error(
      `atoll: isolated-vm ${version}'s src/lib/timer.cc is not the one scripts/patch-isolated-vm.mjs knows. ` +
        "If this version fixes isolated-vm#572, delete the script and its postinstall entry; otherwise update its ANCHOR.",
    );
    process.exit(1);
  }
  writeFileSync(source, text.replace(ANCHOR, FIXED));
}

console.log(`atoll: rebuilding isolated-vm ${version} with the timer fix (isolated-vm#572), about a minute…`);
// The npm running this install when there is one (npm_execpath: a global
// install or npx need not have that npm on PATH), else the one on PATH.
const npmCli = process.env.npm_execpath;
const [command, args] =
  npmCli && /\.[cm]?js$/.test(npmCli) ? [process.execPath, [npmCli, "run", "rebuild"]] : [process.platform === "win32" ? "npm.cmd" : "npm", ["run", "rebuild"]];
const built = spawnSync(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", maxBuffer: 64 << 20 });
if (built.status !== 0) {
  console.error(built.stdout, built.stderr);
  console.error("atoll: rebuilding isolated-vm failed (see above). It needs python3, make and a C++ compiler, as isolated-vm's own install does.");
  process.exit(1);
}
// As isolated-vm's own install does: keep out/isolated_vm.node, drop the object files.
rmSync(join(root, "build"), { recursive: true, force: true });
writeFileSync(stamp, `isolated-vm ${version} rebuilt with the fix for isolated-vm#572\n`);
