// `atoll login`, `whoami`, `logout` and --profile against a real host: a
// login is checked before it is saved (a wrong token or a dead URL is said
// at once), profiles live in a 0600 file, and flags and environment
// variables still override them.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { atoll } from "./support/cli.js";
import { startTestHost, type TestHost } from "./support/test-host.js";
import { freePort } from "./support/ports.js";

let first: TestHost;
let second: TestHost;
const configs: string[] = [];

before(async () => {
  [first, second] = await Promise.all([startTestHost(), startTestHost()]);
  await first.deploy("on-first", `export default { fetch: () => new Response("1") };`);
  await second.deploy("on-second", `export default { fetch: () => new Response("2") };`);
});

after(async () => {
  await Promise.all([first.stop(), second.stop()]);
  first.cleanUp();
  second.cleanUp();
  for (const dir of configs) rmSync(dir, { recursive: true, force: true });
});

/** A config folder of its own for each test. */
function configDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "atoll-config-"));
  configs.push(dir);
  return dir;
}


test("a piped token is checked and saved in a 0600 file; later commands need no flags or variables", async () => {
  const dir = configDir();
  const env = { ATOLL_CONFIG_DIR: dir };
  const login = await atoll(["login", "--url", first.controlUrl], { env, input: `${first.token}\n`, cwd: tmpdir() });
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, new RegExp(`^Logged in to ${first.controlUrl.replace(/[.]/g, "\\.")} as profile "default" \\(token from stdin; 1 script deployed there\\)`));
  const file = join(dir, "profiles.json");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { profiles: { default: { url: first.controlUrl, token: first.token } } });
  // From a folder with no .atoll/ in it: the profile is what reaches the host.
  const list = await atoll(["list"], { env, cwd: tmpdir() });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /on-first/);
  const whoami = await atoll(["whoami"], { env, cwd: tmpdir() });
  assert.equal(whoami.code, 0, whoami.stderr);
  assert.equal(whoami.stdout, `profile:     default\ncontrol API: ${first.controlUrl}\ntoken:       from profile "default"\naccepted:    yes (1 script deployed)\n`);
});

test("an empty pipe is refused with what to do; --token is taken as given", async () => {
  const env = { ATOLL_CONFIG_DIR: configDir() };
  // (Reading <data-dir>/admin-token and the hidden prompt happen at a terminal only, which these child processes are not.)
  const empty = await atoll(["login", "--url", first.controlUrl], { env, input: "" });
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /^error: no token on stdin: pipe the host's admin token in/);
  const fromFile = await atoll(["login", "--url", first.controlUrl, "--token", readFileSync(join(first.dataDir, "admin-token"), "utf8")], { env });
  assert.equal(fromFile.code, 0, fromFile.stderr);
});

test("a wrong token is refused and nothing is saved; an unreachable URL says so", async () => {
  const dir = configDir();
  const env = { ATOLL_CONFIG_DIR: dir };
  const wrong = await atoll(["login", "--url", first.controlUrl], { env, input: "not-the-token\n" });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, new RegExp(`^error: the host at ${first.controlUrl.replace(/[.]/g, "\\.")} refused the admin token`));
  assert.throws(() => statSync(join(dir, "profiles.json")), /ENOENT/);
  const port = await freePort();
  const dead = await atoll(["login", "--url", `http://127.0.0.1:${port}`], { env, input: `${first.token}\n` });
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, new RegExp(`^error: cannot reach the control API at http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\): is \`atoll start\` running\\?`));
  assert.throws(() => statSync(join(dir, "profiles.json")), /ENOENT/);
});

test("two profiles: --profile and ATOLL_PROFILE choose, flags and variables override, an unknown one lists the others; logout forgets", async () => {
  const env = { ATOLL_CONFIG_DIR: configDir() };
  assert.equal((await atoll(["login", "--url", first.controlUrl, "--profile", "one"], { env, input: first.token })).code, 0);
  assert.equal((await atoll(["login", "--url", second.controlUrl, "--profile", "two"], { env, input: second.token })).code, 0);
  const names = async (args: string[], extra: Record<string, string> = {}) => {
    const run = await atoll(["list", "--json", ...args], { env: { ...env, ...extra } });
    assert.equal(run.code, 0, run.stderr);
    return (JSON.parse(run.stdout) as { name: string }[]).map((script) => script.name);
  };
  assert.deepEqual(await names(["--profile", "one"]), ["on-first"]);
  assert.deepEqual(await names(["--profile", "two"]), ["on-second"]);
  assert.deepEqual(await names([], { ATOLL_PROFILE: "two" }), ["on-second"]);
  // The variables beat the profile; the flag beats the variable.
  assert.deepEqual(await names(["--profile", "one"], { ATOLL_CONTROL_URL: second.controlUrl, ATOLL_TOKEN: second.token }), ["on-second"]);
  assert.deepEqual(await names(["--profile", "one", "--control-url", first.controlUrl, "--token", first.token], { ATOLL_CONTROL_URL: second.controlUrl, ATOLL_TOKEN: second.token }), ["on-first"]);

  const unknown = await atoll(["list", "--profile", "three"], { env });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error: there is no profile "three" in .*profiles\.json: the profiles are "one", "two"; add it with `atoll login --profile three --url URL`/);

  const logout = await atoll(["logout", "--profile", "one"], { env });
  assert.equal(logout.code, 0, logout.stderr);
  assert.match(logout.stdout, /^Forgot profile "one"/);
  const again = await atoll(["logout", "--profile", "one"], { env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: there is no profile "one" in .*: nothing to forget/);
  assert.deepEqual(await names(["--profile", "two"]), ["on-second"]);
});
