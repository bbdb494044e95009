// URLPattern in the isolate: basics, then WPT's urlpatterntestdata run the way
// WPT's urlpattern/resources/urlpatterntests.js runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runInIsolate } from "./support/runtime-harness.js";

test("URLPattern basics", async () => {
  const seen = await runInIsolate(`
    const pattern = new URLPattern({ pathname: "/books/:id(\\\\d+)" });
    const match = pattern.exec("https://example.com/books/42?x");
    const full = new URLPattern("https://:sub.example.com/*\\\\?q=:q");
    let error = null;
    try { new URLPattern({ pathname: "/(" }); } catch (e) { error = e.name; }
    return {
      test: [pattern.test("https://example.com/books/42"), pattern.test("https://example.com/books/x")],
      id: match.pathname.groups.id,
      input: match.pathname.input,
      full: full.exec("https://api.example.com/v1/items?q=cats")?.hostname.groups.sub,
      base: new URLPattern({ pathname: "/a/*" }).test("/a/b", "https://x.example"),
      hasRegExpGroups: [pattern.hasRegExpGroups, full.hasRegExpGroups],
      error,
      tag: Object.prototype.toString.call(pattern),
    };
  `);
  assert.deepEqual(seen, {
    test: [true, false],
    id: "42",
    input: "/books/42",
    full: "api",
    base: true,
    hasRegExpGroups: [true, false],
    error: "TypeError",
    tag: "[object URLPattern]",
  });
});

test("URLPattern passes WPT's urlpatterntestdata", async () => {
  const cases = JSON.parse(readFileSync(new URL("../../../shared/conformance/urlpatterntestdata.json", import.meta.url), "utf8")) as unknown[];
  const failures = (await runInIsolate(
    `
    const cases = await request.json();
    const components = ["protocol", "username", "password", "hostname", "port", "pathname", "search", "hash"];
    const EARLIER_COMPONENTS = {
      protocol: [], hostname: ["protocol"], port: ["protocol", "hostname"], username: [], password: [],
      pathname: ["protocol", "hostname", "port"], search: ["protocol", "hostname", "port", "pathname"],
      hash: ["protocol", "hostname", "port", "pathname", "search"],
    };
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b) && Object.keys(a ?? {}).every((k) => a[k] === b[k]);
    function check(entry) {
      if (entry.expected_obj === "error") {
        try { new URLPattern(...entry.pattern); } catch (e) { return e instanceof TypeError ? null : "constructor threw " + e; }
        return "constructor did not throw";
      }
      let pattern;
      try { pattern = new URLPattern(...entry.pattern); } catch (e) { return "constructor threw " + e; }
      const expectedObj = entry.expected_obj || {};
      for (const component of components) {
        let expected = expectedObj[component];
        if (expected == undefined) {
          let baseURL = null;
          if (entry.pattern.length > 0 && entry.pattern[0].baseURL) baseURL = new URL(entry.pattern[0].baseURL);
          else if (entry.pattern.length > 1 && typeof entry.pattern[1] === "string") baseURL = new URL(entry.pattern[1]);
          if (entry.exactly_empty_components && entry.exactly_empty_components.includes(component)) expected = "";
          else if (typeof entry.pattern[0] === "object" && entry.pattern[0][component]) expected = entry.pattern[0][component];
          else if (typeof entry.pattern[0] === "object" && EARLIER_COMPONENTS[component].some((c) => c in entry.pattern[0])) expected = "*";
          else if (baseURL && component !== "username" && component !== "password") {
            let value = baseURL[component];
            if (component === "protocol") value = value.substring(0, value.length - 1);
            else if (component === "search" || component === "hash") value = value.substring(1, value.length);
            expected = value;
          } else expected = "*";
        }
        if (pattern[component] !== expected) return "pattern." + component + " is " + JSON.stringify(pattern[component]) + ", expected " + JSON.stringify(expected);
      }
      if (entry.expected_match === "error") {
        for (const method of ["test", "exec"]) {
          try { pattern[method](...entry.inputs); return method + "() did not throw"; } catch (e) { if (!(e instanceof TypeError)) return method + "() threw " + e; }
        }
        return null;
      }
      let tested, result;
      try { tested = pattern.test(...entry.inputs); result = pattern.exec(...entry.inputs); } catch (e) { return "test()/exec() threw " + e; }
      if (tested !== !!entry.expected_match) return "test() gave " + tested;
      if (!entry.expected_match || typeof entry.expected_match !== "object") {
        return result === entry.expected_match ? null : "exec() gave " + JSON.stringify(result);
      }
      const expectedInputs = entry.expected_match.inputs || entry.inputs;
      if (result.inputs.length !== expectedInputs.length) return "exec().inputs.length is " + result.inputs.length;
      for (let i = 0; i < result.inputs.length; i++) {
        const input = result.inputs[i];
        if (typeof input === "string") { if (input !== expectedInputs[i]) return "exec().inputs[" + i + "] is " + JSON.stringify(input); continue; }
        for (const component of components) {
          if (input[component] !== expectedInputs[i][component]) return "exec().inputs[" + i + "]." + component + " is " + JSON.stringify(input[component]);
        }
      }
      for (const component of components) {
        let expected = entry.expected_match[component];
        if (!expected) {
          expected = { input: "", groups: {} };
          if (!entry.exactly_empty_components || !entry.exactly_empty_components.includes(component)) expected.groups["0"] = "";
        }
        const groups = {};
        for (const key in expected.groups) groups[key] = expected.groups[key] === null ? undefined : expected.groups[key];
        const actual = result[component];
        const actualKeys = Object.keys(actual.groups).sort();
        const expectedKeys = Object.keys(groups).sort();
        if (actual.input !== expected.input || actualKeys.join() !== expectedKeys.join() || expectedKeys.some((k) => actual.groups[k] !== groups[k])) {
          return "exec()." + component + " is " + JSON.stringify(actual) + ", expected " + JSON.stringify(expected);
        }
      }
      return null;
    }
    const failures = [];
    for (const entry of cases) {
      const label = "Pattern: " + JSON.stringify(entry.pattern) + " Inputs: " + JSON.stringify(entry.inputs);
      let problem;
      try { problem = check(entry); } catch (e) { problem = "threw " + e; }
      if (problem !== null) failures.push(label + ": " + problem);
    }
    return failures;
  `,
    { method: "POST", body: JSON.stringify(cases) },
  )) as string[];
  console.log(`urlpatterntestdata: ${cases.length - failures.length}/${cases.length}`);
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} urlpatterntestdata cases fail`);
});
