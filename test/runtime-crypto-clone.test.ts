// crypto.getRandomValues/randomUUID over the host's random bytes, and structuredClone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInIsolate } from "./support/runtime-harness.js";

test("crypto.randomUUID gives distinct v4 UUIDs", async () => {
  const uuids = (await runInIsolate(`return Array.from({ length: 200 }, () => crypto.randomUUID());`)) as string[];
  for (const uuid of uuids) assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(uuids).size, uuids.length);
});

test("crypto.getRandomValues fills integer arrays, refuses floats and more than 65536 bytes", async () => {
  const seen = await runInIsolate(`
    const out = {};
    const bytes = new Uint8Array(4096);
    out.same = crypto.getRandomValues(bytes) === bytes;
    out.distinct = new Set(bytes).size > 200;
    const words = crypto.getRandomValues(new Uint32Array(8));
    out.words = words.some((w) => w > 0xffff);
    out.big = typeof crypto.getRandomValues(new BigUint64Array(2))[0];
    out.max = crypto.getRandomValues(new Uint8Array(65536)).length;
    const view = new Uint8Array(16);
    crypto.getRandomValues(new Uint8Array(view.buffer, 4, 4));
    out.offset = [view.slice(0, 4).every((b) => b === 0), view.slice(8).every((b) => b === 0)];
    for (const [label, fn] of [
      ["float", () => crypto.getRandomValues(new Float64Array(2))],
      ["dataview", () => crypto.getRandomValues(new DataView(new ArrayBuffer(4)))],
      ["plain", () => crypto.getRandomValues([1, 2])],
      ["quota", () => crypto.getRandomValues(new Uint8Array(65537))],
    ]) {
      try { fn(); out[label] = "accepted"; } catch (e) { out[label] = e.name + (e instanceof DOMException ? "/DOMException" : ""); }
    }
    return out;
  `);
  assert.deepEqual(seen, {
    same: true,
    distinct: true,
    words: true,
    big: "bigint",
    max: 65536,
    offset: [true, true],
    float: "TypeError",
    dataview: "TypeError",
    plain: "TypeError",
    quota: "QuotaExceededError/DOMException",
  });
});

test("structuredClone copies data deeply, keeps cycles and types, refuses functions", async () => {
  const seen = await runInIsolate(`
    const source = {
      n: -0, s: "x", big: 12n, date: new Date(0), re: /a+/gi, map: new Map([[1, { deep: true }]]), set: new Set(["a"]),
      bytes: new Uint8Array([1, 2, 3]), list: [1, , 3], nested: { error: new RangeError("r") },
    };
    source.self = source;
    const copy = structuredClone(source);
    const errors = [];
    for (const value of [() => 1, { f() {} }, Symbol("s"), new Request("https://x.example"), Promise.resolve()]) {
      try { structuredClone(value); errors.push("cloned"); } catch (e) { errors.push(e.name); }
    }
    class Point { constructor() { this.x = 1; } }
    return {
      distinct: copy !== source && copy.map !== source.map && copy.bytes.buffer !== source.bytes.buffer,
      cycle: copy.self === copy,
      values: [Object.is(copy.n, -0), copy.s, typeof copy.big, copy.date.getTime(), copy.re.source + "/" + copy.re.flags,
        copy.map.get(1).deep, copy.set.has("a"), Array.from(copy.bytes), copy.list.length, 1 in copy.list,
        copy.nested.error instanceof RangeError, copy.nested.error.message],
      errors,
      classInstance: [structuredClone(new Point()).x, structuredClone(new Point()) instanceof Point],
    };
  `);
  assert.deepEqual(seen, {
    distinct: true,
    cycle: true,
    values: [true, "x", "bigint", 0, "a+/gi", true, true, [1, 2, 3], 3, false, true, "r"],
    errors: ["DataCloneError", "DataCloneError", "DataCloneError", "DataCloneError", "DataCloneError"],
    classInstance: [1, false],
  });
});
