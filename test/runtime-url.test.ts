// URL and URLSearchParams in the isolate: basics, then WPT's urltestdata,
// setters_tests and toascii data, run the way WPT's url/ tests run them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runInIsolate } from "./support/runtime-harness.js";

function conformance(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../../shared/conformance/${name}`, import.meta.url), "utf8"));
}

/** Runs `body` (with `cases` in scope, sent as the request body) and returns the failures it lists. */
async function failuresOf(body: string, cases: unknown): Promise<string[]> {
  return (await runInIsolate(`const cases = await request.json();\n${body}`, { method: "POST", body: JSON.stringify(cases) })) as string[];
}

function report(suite: string, total: number, failures: string[]): void {
  console.log(`${suite}: ${total - failures.length}/${total}`);
  assert.deepEqual(failures, [], `${failures.length} of ${total} ${suite} cases fail`);
}

test("URL and URLSearchParams basics", async () => {
  const seen = await runInIsolate(`
    const url = new URL("../b/./c?x=1&y=two#frag", "https://user:pw@Example.COM:8080/a/z");
    url.searchParams.append("z", "é ü");
    const params = new URLSearchParams("a=1&b=2&a=3");
    params.sort();
    let error = null;
    try { new URL("not a url"); } catch (e) { error = e.name; }
    return {
      href: url.href, origin: url.origin, host: url.host, pathname: url.pathname, search: url.search, hash: url.hash,
      username: url.username, y: url.searchParams.get("y"),
      params: [params.toString(), params.getAll("a"), params.has("b"), params.size, params.has("a", "3"), params.has("a", "4")],
      fromObject: new URLSearchParams({ q: "x y", r: "&" }).toString(),
      idna: new URL("https://münchen.example/").hostname,
      error, canParse: [URL.canParse("https://ok.example"), URL.canParse("nope"), URL.canParse("/p", "https://b.example")],
      parse: [URL.parse("nope"), URL.parse("/p?q", "https://b.example").href],
      json: JSON.stringify({ u: new URL("https://j.example") }),
      tags: [String(url), Object.prototype.toString.call(url), Object.prototype.toString.call(params)],
    };
  `);
  assert.deepEqual(seen, {
    href: "https://user:pw@example.com:8080/b/c?x=1&y=two&z=%C3%A9+%C3%BC#frag",
    origin: "https://example.com:8080",
    host: "example.com:8080",
    pathname: "/b/c",
    search: "?x=1&y=two&z=%C3%A9+%C3%BC",
    hash: "#frag",
    username: "user",
    y: "two",
    params: ["a=1&a=3&b=2", ["1", "3"], true, 3, true, false],
    fromObject: "q=x+y&r=%26",
    idna: "xn--mnchen-3ya.example",
    error: "TypeError",
    canParse: [true, false, true],
    parse: [null, "https://b.example/p?q"],
    json: '{"u":"https://j.example/"}',
    tags: ["https://user:pw@example.com:8080/b/c?x=1&y=two&z=%C3%A9+%C3%BC#frag", "[object URL]", "[object URLSearchParams]"],
  });
});

test("URL passes WPT's urltestdata", async () => {
  const cases = (conformance("urltestdata.json") as unknown[]).filter((entry) => typeof entry === "object" && entry !== null);
  // As WPT's url-constructor, url-origin and url-statics-* tests: every
  // component, the origin, searchParams, and URL.parse/canParse agreeing.
  const failures = await failuresOf(
    `
    const keys = ["href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"];
    const failures = [];
    for (const c of cases) {
      const label = JSON.stringify(c.input) + (c.base === null ? "" : " against " + JSON.stringify(c.base));
      const args = c.base === null ? [c.input] : [c.input, c.base];
      let url = null;
      let thrown = null;
      try { url = new URL(...args); } catch (e) { thrown = e; }
      if (URL.canParse(...args) !== (url !== null)) { failures.push(label + ": URL.canParse disagrees"); continue; }
      if ((URL.parse(...args) === null) !== (url === null)) { failures.push(label + ": URL.parse disagrees"); continue; }
      if (c.failure) {
        if (url !== null) failures.push(label + ": parsed as " + url.href);
        else if (!(thrown instanceof TypeError)) failures.push(label + ": threw " + thrown);
        continue;
      }
      if (url === null) { failures.push(label + ": threw " + thrown); continue; }
      const wrong = keys.filter((key) => key in c && url[key] !== c[key]);
      if ("searchParams" in c && url.searchParams.toString() !== c.searchParams) wrong.push("searchParams");
      if (wrong.length > 0) failures.push(label + ": " + wrong.map((key) => key + " " + JSON.stringify(key === "searchParams" ? url.searchParams.toString() : url[key])).join(", "));
    }
    return failures;
  `,
    cases,
  );
  report("urltestdata", cases.length, failures);
});

test("URL setters pass WPT's setters_tests", async () => {
  const data = conformance("setters_tests.json") as Record<string, unknown>;
  const cases = Object.entries(data)
    .filter(([setter]) => setter !== "comment")
    .flatMap(([setter, list]) => (list as object[]).map((entry) => ({ setter, ...entry })));
  const failures = await failuresOf(
    `
    const failures = [];
    for (const c of cases) {
      const label = c.setter + " = " + JSON.stringify(c.new_value) + " on " + JSON.stringify(c.href);
      try {
        const url = new URL(c.href);
        url[c.setter] = c.new_value;
        const wrong = Object.keys(c.expected).filter((key) => url[key] !== c.expected[key]);
        if (wrong.length > 0) failures.push(label + ": " + wrong.map((key) => key + " " + JSON.stringify(url[key])).join(", "));
      } catch (e) {
        failures.push(label + ": threw " + e);
      }
    }
    return failures;
  `,
    cases,
  );
  report("setters_tests", cases.length, failures);
});

test("host parsing passes WPT's toascii (constructor, host and hostname setters)", async () => {
  const cases = (conformance("toascii.json") as unknown[]).filter((entry) => typeof entry === "object" && entry !== null);
  const failures = await failuresOf(
    `
    const failures = [];
    for (const c of cases) {
      const label = JSON.stringify(c.input);
      try {
        if (c.output === null) {
          let parsed = null;
          try { parsed = new URL("https://" + c.input + "/x").href; } catch {}
          if (parsed !== null) failures.push(label + ": parsed as " + parsed);
        } else {
          const url = new URL("https://" + c.input + "/x");
          if (url.host !== c.output || url.hostname !== c.output || url.pathname !== "/x" || url.href !== "https://" + c.output + "/x") {
            failures.push(label + ": href " + url.href);
          }
        }
        const expected = c.output === null ? "x" : c.output;
        const viaHost = new URL("https://x/x");
        viaHost.host = c.input;
        if (viaHost.host !== expected) failures.push(label + ": host setter gave " + viaHost.host);
        const viaHostname = new URL("https://x/x");
        viaHostname.hostname = c.input;
        if (viaHostname.hostname !== expected) failures.push(label + ": hostname setter gave " + viaHostname.hostname);
      } catch (e) {
        failures.push(label + ": threw " + e);
      }
    }
    return failures;
  `,
    cases,
  );
  // Three checks per case, as in WPT's toascii.window.js.
  report("toascii", cases.length * 3, failures);
});
