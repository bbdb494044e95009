// A function's console output on the operator's terminal: colours kept only
// for a terminal, every other escape sequence and control character dropped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { terminalSafe } from "../host/terminal-text.js";
import { startTestHost } from "./support/test-host.js";
import { atoll, controlArgs } from "./support/cli.js";

const GREEN = "\x1b[32m";
const RESET = "\x1b[0m";

test("colours are kept for a terminal and dropped otherwise", () => {
  const line = `${GREEN}ok${RESET} done \x1b[1;38;5;208mbold orange${RESET}`;
  assert.equal(terminalSafe(line, true), line);
  assert.equal(terminalSafe(line, false), "ok done bold orange");
});

test("cursor moves, screen clears, titles, clipboard writes and control characters never pass", () => {
  const hostile = "a\x1b[2J\x1b[H\x1b[10Ab\x1b]0;owned\x07c\x1b]52;c;ZXZpbA==\x1b\\d\x1bce\x07\x08\x00f\x9b\x7fg";
  assert.equal(terminalSafe(hostile, true), "abcdefg");
  assert.equal(terminalSafe(hostile, false), "abcdefg");
});

test("tabs, newlines and plain text are left as they are", () => {
  const plain = "line one\n\tindented — ünïcode ✓";
  assert.equal(terminalSafe(plain, true), plain);
  assert.equal(terminalSafe(plain, false), plain);
});

test("a function's coloured log reaches the host's log without escape sequences", async () => {
  const host = await startTestHost();
  try {
    await host.deploy("painter", `export default { fetch() { console.log("\\x1b[32mgreen\\x1b[0m \\x1b[2Jcleared"); return new Response("ok"); } };`);
    assert.equal((await host.request("painter.localhost", "/")).status, 200);
    const line = await host.waitForLog(/^\[painter@v1\] log: /);
    assert.equal(line, "[painter@v1] log: green cleared");
  } finally {
    await host.stop();
    host.cleanUp();
  }
});

test("what a function throws, and what `atoll invoke` prints of it, carries no escape sequence either", async () => {
  const host = await startTestHost();
  try {
    await host.deploy(
      "thrower",
      `export default {
        fetch(request) {
          console.log("\\x1b[31mred\\x1b[0m \\x1b]0;title\\x07log");
          if (new URL(request.url).pathname === "/boom") throw new Error("\\x1b[2J\\x1b[Hcleared");
          return new Response("ok");
        },
      };`,
    );
    assert.equal((await host.request("thrower.localhost", "/boom")).status, 500);
    const line = await host.waitForLog(/^thrower@v1 GET \/boom 500 /);
    assert.match(line, /threw: Error: cleared/);
    assert.doesNotMatch(host.logs.join("\n"), /\x1b/);

    // stdout is a pipe here: not a terminal, so no colour either.
    const invoked = await atoll(["invoke", "thrower", "--path", "/boom", ...controlArgs(host)]);
    assert.doesNotMatch(invoked.stdout + invoked.stderr, /\x1b/);
    assert.match(invoked.stdout, /^log: red log$/m);
    assert.match(invoked.stdout, /Error: cleared/);
  } finally {
    await host.stop();
    host.cleanUp();
  }
});
