// The URL parser's fast path (host/runtime/url-fast-path.ts) against the full
// parser it stands in for (whatwg-url's basicURLParse, unpatched): whatever it
// takes, it must give the very record the state machine gives.
/// <reference path="../host/runtime/vendor.d.ts" />
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basicURLParse } from "whatwg-url";
import { parseCommonURL } from "../host/runtime/url-fast-path.js";

function agrees(input: string): boolean {
  const fast = parseCommonURL(input);
  if (fast === null) return false;
  assert.deepEqual(fast, basicURLParse(input), `fast path for ${JSON.stringify(input)}`);
  return true;
}

test("takes the URLs requests carry, with the records the full parser gives", () => {
  for (const input of [
    "http://hello.localhost/",
    "http://hello.localhost:8787/users/42/posts/7?tag=a&tag=b#top",
    "https://api.example.com/v1/items?q=x%20y&page=2",
    "http://127.0.0.1:8787/static/app.css",
    "http://10.0.0.255/a/b/c/",
    "https://example.com",
    "http://example.com:80/default-port",
    "https://example.com:443/",
    "http://a-b.c0.example/@x/$y;z=1,2/|[]~",
    "http://example.com/?",
    "http://example.com/#",
    "http://example.com/a?b?c#d#e",
  ]) {
    assert.ok(agrees(input), `${input} should take the fast path`);
  }
});

test("leaves to the full parser what needs its rules", () => {
  for (const input of [
    "HTTP://example.com/",
    "http://Example.com/",
    "http://example.com/./a",
    "http://example.com/a/../b",
    "http://example.com/%2e%2E/b",
    "http://example.com/a b",
    "http://example.com/a\\b",
    "http://user:pass@example.com/",
    "http://example.com:0/",
    "http://example.com:08/",
    "http://example.com:99999/",
    "http://0x7f.1/",
    "http://127.1/",
    "http://127.000.0.1/",
    "http://foo.123/",
    "http://xn--nxasmq6b.com/",
    "http://example.com./",
    "http://ex..ample/",
    "http://example.com/ü",
    "http://example.com/a\tb",
    " http://example.com/",
    "ws://example.com/",
    "http://example.com/'quote'?'q'",
  ]) {
    const fast = parseCommonURL(input);
    if (fast !== null) assert.deepEqual(fast, basicURLParse(input), input);
  }
  assert.equal(parseCommonURL("http://example.com/./a"), null);
  assert.equal(parseCommonURL("http://127.1/"), null);
  assert.equal(parseCommonURL("http://xn--nxasmq6b.com/"), null);
});

test("agrees with the full parser on every input of the WPT URL tests", () => {
  const cases = JSON.parse(readFileSync(new URL("../../../shared/conformance/urltestdata.json", import.meta.url), "utf8")) as unknown[];
  let taken = 0;
  for (const entry of cases) {
    if (typeof entry !== "object" || entry === null) continue;
    const { input } = entry as { input: string };
    if (agrees(input)) taken++;
  }
  assert.ok(taken > 20, `only ${taken} WPT inputs took the fast path`);
});

test("agrees with the full parser on 50,000 generated URLs made of the characters that matter", () => {
  const pieces = ["a", "Z", "0", "9", "-", ".", "/", "?", "#", "%", "%2e", "%2E", "..", ":", "@", "[", "]", "\\", "^", "`", "{", "}", "|", "'", '"', " ", "\t", "~", "!", "$", "&", "=", ";", ",", "<", ">", "xn--", "0x", "ü", "\u0000", "\u007f"];
  const hosts = ["example.com", "a", "127.0.0.1", "1.2.3", "0x7f.0.0.1", "foo.0x", "a-.b", "-a.b", "xn--a.b", "a..b", "255.255.255.255", "256.0.0.1", "01.2.3.4", "ex%41mple"];
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let taken = 0;
  for (let i = 0; i < 50_000; i++) {
    let rest = "";
    for (let j = random(10); j > 0; j--) rest += pieces[random(pieces.length)];
    const port = random(4) === 0 ? `:${[0, 80, 443, 8080, 65535, 65536, "08"][random(7)]}` : "";
    const input = `${random(5) === 0 ? "https" : "http"}://${hosts[random(hosts.length)]}${port}${random(3) === 0 ? "" : "/"}${rest}`;
    if (agrees(input)) taken++;
  }
  assert.ok(taken > 2_000, `only ${taken} generated URLs took the fast path`);
});
