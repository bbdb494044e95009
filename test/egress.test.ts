// SSRF: a function may not reach loopback, private, link-local or metadata
// addresses, however it spells them: IP literals in every form, a DNS name that
// resolves to loopback, a redirect from an allowed server. The host here
// allows exactly one loopback address (127.0.0.2) so that a real origin can
// serve redirects; the origin on 127.0.0.1 must never see a request.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { EgressPolicy } from "../host/executor/worker/egress.js";
import { startTestHost, type TestHost } from "./support/test-host.js";
import { startOrigin, type Origin } from "./support/origin.js";

const PROBE = `export default {
  async fetch(request) {
    const target = new URL(request.url).searchParams.get("url");
    try {
      const response = await fetch(target);
      return Response.json({ ok: true, status: response.status, text: await response.text() });
    } catch (error) {
      return Response.json({ ok: false, name: error.name, message: error.message });
    }
  },
};`;

test("the policy names what each forbidden address is", () => {
  const policy = new EgressPolicy({ allowPrivate: false, allow: ["10.1.0.0/16"], connectTimeoutMs: 1000, responseTimeoutMs: 1000 });
  const cases: [string, RegExp | null][] = [
    ["127.0.0.1", /loopback/],
    ["127.255.0.9", /loopback/],
    ["::1", /loopback/],
    ["[::1]", /loopback/],
    ["::ffff:127.0.0.1", /loopback/],
    ["::ffff:169.254.169.254", /link-local/],
    ["169.254.169.254", /metadata/],
    ["10.0.0.1", /private/],
    ["172.16.5.4", /private/],
    ["192.168.1.1", /private/],
    ["100.64.0.1", /carrier-grade NAT/],
    ["0.0.0.0", /this network/],
    ["fd00:ec2::254", /unique local/],
    ["fe80::1", /link-local/],
    ["224.0.0.1", /multicast/],
    ["10.1.2.3", null],
    ["93.184.215.14", null],
    ["2606:4700::1111", null],
  ];
  for (const [address, expected] of cases) {
    const reason = policy.refusal(address);
    if (expected === null) assert.equal(reason, null, address);
    else assert.match(reason ?? "(allowed)", expected, address);
  }
  assert.throws(() => new EgressPolicy({ allowPrivate: false, allow: ["not-an-ip"], connectTimeoutMs: 1, responseTimeoutMs: 1 }), /not an IP address or CIDR range/);
});

let host: TestHost;
let forbidden: Origin;
let allowed: Origin;

before(async () => {
  forbidden = await startOrigin("127.0.0.1");
  allowed = await startOrigin("127.0.0.2");
  host = await startTestHost({ egress: { allow: ["127.0.0.2"] } });
  await host.deploy("probe", PROBE, { limits: { cpu_ms: 1000 } });
});
after(async () => {
  await host.stop();
  host.cleanUp();
  forbidden.server.close();
  allowed.server.close();
});

async function probe(url: string): Promise<{ ok: boolean; name?: string; message?: string; text?: string }> {
  const response = await host.request("probe.localhost", `/?url=${encodeURIComponent(url)}`);
  assert.equal(response.status, 200);
  return (await response.json()) as { ok: boolean; name?: string; message?: string; text?: string };
}

test("an allowed address is reachable", async () => {
  const answer = await probe(`${allowed.url}/text`);
  assert.deepEqual(answer, { ok: true, status: 200, text: "hello from the origin" });
});

test("loopback, private and metadata addresses are refused in every spelling", async () => {
  const port = new URL(forbidden.url).port;
  const targets = [
    `http://127.0.0.1:${port}/text`,
    `http://[::1]:${port}/text`,
    `http://[::ffff:127.0.0.1]:${port}/text`,
    `http://0x7f000001:${port}/text`,
    `http://2130706433:${port}/text`,
    `http://127.1:${port}/text`,
    `http://localhost:${port}/text`,
    `http://169.254.169.254/latest/meta-data/`,
    `http://[fd00:ec2::254]/latest/meta-data/`,
    `http://10.0.0.1/`,
    `http://192.168.0.1/`,
    `http://0.0.0.0:${port}/text`,
  ];
  for (const target of targets) {
    const answer = await probe(target);
    assert.equal(answer.ok, false, target);
    assert.equal(answer.name, "TypeError", target);
    assert.match(answer.message ?? "", /fetch refused: .* is (a|an|the) .*functions may not reach loopback, private, link-local or metadata addresses/, target);
  }
  assert.deepEqual(forbidden.seen, []);
});

test("a redirect from an allowed server to a forbidden address is refused", async () => {
  const port = new URL(forbidden.url).port;
  for (const to of [`http://127.0.0.1:${port}/text`, `http://localhost:${port}/text`]) {
    const answer = await probe(`${allowed.url}/redirect?to=${encodeURIComponent(to)}`);
    assert.equal(answer.ok, false, to);
    assert.match(answer.message ?? "", /fetch refused: .*loopback/, to);
  }
  assert.deepEqual(forbidden.seen, []);
  assert.ok(allowed.seen.filter((line) => line === "GET /redirect").length >= 2);
});
