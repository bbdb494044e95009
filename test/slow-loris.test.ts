// Slow-loris: clients that open connections and dribble their request head
// one byte at a time are cut off after the host's headersTimeoutMs, while a
// well-behaved client keeps getting answers all along.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { startTestHost, type TestHost } from "./support/test-host.js";

const HEADERS_TIMEOUT_MS = 1000;
const SLOW_CLIENTS = 200;

let host: TestHost;
before(async () => {
  host = await startTestHost({ headersTimeoutMs: HEADERS_TIMEOUT_MS });
  await host.deploy("hello", `export default { fetch: () => new Response("hello") };`);
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

test("clients that dribble their headers are closed after headersTimeoutMs; others are served meanwhile", async () => {
  const { port } = new URL(host.dataUrl);
  const closedAt: number[] = [];
  const answers: string[] = [];
  const started = Date.now();
  const sockets: Socket[] = [];
  const dribblers: NodeJS.Timeout[] = [];
  await Promise.all(
    Array.from({ length: SLOW_CLIENTS }, () => new Promise<void>((resolve) => {
      const socket = connect(Number(port), "127.0.0.1", () => {
        socket.write("GET / HTTP/1.1\r\nHost: hello.localhost\r\nX-Slow: ");
        // One more byte every 100 ms: the head never ends.
        dribblers.push(setInterval(() => socket.writable && socket.write("a"), 100));
        resolve();
      });
      socket.on("data", (data) => answers.push(data.toString("latin1").split("\r\n")[0]!));
      socket.on("close", () => closedAt.push(Date.now() - started));
      socket.on("error", () => {});
      sockets.push(socket);
    })),
  );
  try {
    // A well-behaved client, throughout.
    const statuses: number[] = [];
    while (Date.now() - started < HEADERS_TIMEOUT_MS * 2.5) {
      const response = await host.request("hello.localhost", "/");
      statuses.push(response.status);
      await response.text();
    }
    assert.ok(statuses.length > 10);
    assert.deepEqual([...new Set(statuses)], [200]);
    for (let i = 0; i < 100 && closedAt.length < SLOW_CLIENTS; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(closedAt.length, SLOW_CLIENTS, "every slow client was cut off");
    // Node answers 408 before closing (when it can still write).
    assert.ok(answers.every((line) => line === "HTTP/1.1 408 Request Timeout"), answers.slice(0, 3).join(" | "));
    assert.ok(Math.min(...closedAt) >= HEADERS_TIMEOUT_MS * 0.9, `closed after ${Math.min(...closedAt)} ms`);
  } finally {
    for (const timer of dribblers) clearInterval(timer);
    for (const socket of sockets) socket.destroy();
  }
});
