// TextEncoder/TextDecoder (+Stream) and atob/btoa (WPT forgiving-base64 data);
// URL is in runtime-url.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runInIsolate } from "./support/runtime-harness.js";

test("TextEncoder: UTF-8 bytes, lone surrogates, encodeInto", async () => {
  const seen = await runInIsolate(`
    const encoder = new TextEncoder();
    const into = new Uint8Array(5);
    return {
      ascii: Array.from(encoder.encode("hi")),
      multi: Array.from(encoder.encode("é€😀")),
      lone: Array.from(encoder.encode("a\\ud800b")),
      empty: encoder.encode().length,
      into: [encoder.encodeInto("a€😀", into), Array.from(into)],
      encoding: encoder.encoding,
    };
  `);
  assert.deepEqual(seen, {
    ascii: [104, 105],
    multi: [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80],
    lone: [97, 0xef, 0xbf, 0xbd, 98],
    empty: 0,
    into: [{ read: 2, written: 4 }, [97, 0xe2, 0x82, 0xac, 0]],
    encoding: "utf-8",
  });
});

test("TextDecoder: BOM, replacement, fatal, streaming split sequences, labels", async () => {
  const seen = await runInIsolate(`
    const bytes = (...b) => new Uint8Array(b);
    const out = {};
    out.bom = new TextDecoder().decode(bytes(0xef, 0xbb, 0xbf, 0x41));
    out.keepBom = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes(0xef, 0xbb, 0xbf, 0x41)).length;
    out.invalid = new TextDecoder().decode(bytes(0x61, 0xff, 0xc3, 0x62, 0xe2, 0x82));
    try { new TextDecoder("utf-8", { fatal: true }).decode(bytes(0xc3)); out.fatal = "no error"; } catch (e) { out.fatal = e.name; }
    const streaming = new TextDecoder();
    const smile = [0xf0, 0x9f, 0x98, 0x80];
    out.stream = [
      streaming.decode(bytes(0x41, smile[0]), { stream: true }),
      streaming.decode(bytes(smile[1]), { stream: true }),
      streaming.decode(bytes(smile[2], smile[3], 0xc3), { stream: true }),
      streaming.decode(bytes(0xa9)),
    ];
    const unfinished = new TextDecoder();
    out.unfinished = [unfinished.decode(bytes(0xe2, 0x82), { stream: true }), unfinished.decode()];
    const fatalStream = new TextDecoder("utf-8", { fatal: true });
    out.fatalStream = fatalStream.decode(bytes(0xe2, 0x82), { stream: true }) + fatalStream.decode(bytes(0xac));
    out.bomSplit = (() => { const d = new TextDecoder(); return d.decode(bytes(0xef, 0xbb), { stream: true }) + d.decode(bytes(0xbf, 0x42)); })();
    out.labels = [new TextDecoder("UTF8").encoding, new TextDecoder("latin1").encoding, new TextDecoder("utf-16le").encoding];
    out.latin1 = new TextDecoder("latin1").decode(bytes(0x80, 0xe9));
    out.utf16 = new TextDecoder("utf-16le").decode(bytes(0x68, 0, 0x3d, 0xd8, 0x00, 0xde));
    try { new TextDecoder("klingon"); } catch (e) { out.badLabel = e.name; }
    out.buffer = new TextDecoder().decode(new Uint8Array([0x6f, 0x6b]).buffer);
    out.large = new TextDecoder().decode(new TextEncoder().encode("é".repeat(20000))).length;
    return out;
  `);
  assert.deepEqual(seen, {
    bom: "A",
    keepBom: 2,
    invalid: "a\ufffd\ufffdb\ufffd",
    fatal: "TypeError",
    stream: ["A", "", "😀", "é"],
    unfinished: ["", "\ufffd"],
    fatalStream: "€",
    bomSplit: "B",
    labels: ["utf-8", "windows-1252", "utf-16le"],
    latin1: "€é",
    utf16: "h😀",
    badLabel: "RangeError",
    buffer: "ok",
    large: 20000,
  });
});

test("atob/btoa pass WPT's forgiving-base64 cases", async () => {
  const cases = JSON.parse(readFileSync(new URL("../../../shared/conformance/base64.json", import.meta.url), "utf8")) as [string, number[] | null][];
  assert.ok(cases.length >= 80);
  const results = (await runInIsolate(`
    const cases = ${JSON.stringify(cases)};
    return cases.map(([input, expected]) => {
      try {
        const decoded = atob(input);
        return Array.from(decoded, (c) => c.charCodeAt(0));
      } catch (e) {
        return e.name;
      }
    });
  `)) as (number[] | string)[];
  cases.forEach(([input, expected], index) => {
    assert.deepEqual(results[index], expected ?? "InvalidCharacterError", `atob(${JSON.stringify(input)})`);
  });
  const round = await runInIsolate(`
    let latin1 = "";
    for (let i = 0; i < 256; i++) latin1 += String.fromCharCode(i);
    let error = null;
    try { btoa("€"); } catch (e) { error = e.name; }
    return [btoa(""), btoa("a"), btoa("ab"), btoa("abc"), atob(btoa(latin1)) === latin1, error];
  `);
  assert.deepEqual(round, ["", "YQ==", "YWI=", "YWJj", true, "InvalidCharacterError"]);
});

test("TextEncoderStream and TextDecoderStream", async () => {
  const seen = await runInIsolate(`
    const source = new ReadableStream({ start(c) { c.enqueue("h\\ud83d"); c.enqueue("\\ude00!"); c.close(); } });
    const text = await new Response(source.pipeThrough(new TextEncoderStream()).pipeThrough(new TextDecoderStream())).text();
    return text;
  `);
  assert.equal(seen, "h😀!");
});

/** Bytes of every kind UTF-8 decoding meets: ASCII, valid sequences, stray continuations, bad and truncated leads. */
const MIXED_BYTES = `(seed, size) => {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) >>> 0) >>> 8;
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const r = next() % 10;
    out[i] = r < 4 ? next() % 128 : r < 7 ? 0x80 + (next() % 64) : 0xc0 + (next() % 64);
  }
  return out;
}`;

test("large inputs are coded by the host's native UTF-8 exactly as the Encoding Standard says: replacement, fatal, BOM, chunks split mid-sequence", async () => {
  const seen = (await runInIsolate(`
    const mixed = ${MIXED_BYTES};
    const out = { whole: [], fatal: [], streamed: [] };
    for (let seed = 1; seed <= 6; seed++) {
      const bytes = mixed(seed, 20000 + seed * 3001);
      out.whole.push(new TextDecoder().decode(bytes));
      try { new TextDecoder("utf-8", { fatal: true }).decode(bytes); out.fatal.push("decoded"); } catch (e) { out.fatal.push(e.name); }
      const decoder = new TextDecoder();
      let text = "";
      for (let at = 0; at < bytes.length; ) {
        const size = 9000 + ((seed * 7919 + at) % 5000);
        text += decoder.decode(bytes.subarray(at, at + size), { stream: true });
        at += size;
      }
      out.streamed.push(text + decoder.decode());
    }
    const valid = "é€😀 ascii ".repeat(2000);
    const validBytes = new TextEncoder().encode(valid);
    out.validFatal = new TextDecoder("utf-8", { fatal: true }).decode(validBytes) === valid;
    const withBom = new Uint8Array(validBytes.length + 3);
    withBom.set([0xef, 0xbb, 0xbf]);
    withBom.set(validBytes, 3);
    out.bomDropped = new TextDecoder().decode(withBom) === valid;
    out.bomKept = new TextDecoder("utf-8", { ignoreBOM: true }).decode(withBom) === "\\ufeff" + valid;
    out.textBody = (await new Response(withBom).text()) === valid;
    const lone = "a\\ud800b\\udc00".repeat(5000);
    out.lone = Array.from(new TextEncoder().encode(lone).subarray(0, 8));
    out.loneLength = new TextEncoder().encode(lone).length;
    return out;
  `)) as Record<string, unknown>;
  const mixed = new Function(`return ${MIXED_BYTES}`)() as (seed: number, size: number) => Uint8Array;
  const reference = { whole: [] as string[], fatal: [] as string[], streamed: [] as string[] };
  for (let seed = 1; seed <= 6; seed++) {
    const bytes = mixed(seed, 20000 + seed * 3001);
    const text = new TextDecoder().decode(bytes);
    reference.whole.push(text);
    reference.fatal.push("TypeError");
    reference.streamed.push(text);
  }
  assert.ok(Array.isArray(seen.whole), `the isolate failed: ${JSON.stringify(seen).slice(0, 500)}`);
  const result = seen;
  assert.deepEqual(result.whole, reference.whole);
  assert.deepEqual(result.fatal, reference.fatal);
  assert.deepEqual(result.streamed, reference.streamed);
  assert.equal(result.validFatal, true);
  assert.equal(result.bomDropped, true);
  assert.equal(result.bomKept, true);
  assert.equal(result.textBody, true);
  assert.deepEqual(result.lone, [0x61, 0xef, 0xbf, 0xbd, 0x62, 0xef, 0xbf, 0xbd]);
  assert.equal(result.loneLength, 5000 * 8);
});
