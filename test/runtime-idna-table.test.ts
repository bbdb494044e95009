// The runtime bundles tr46's UTS #46 mapping table packed (scripts/tr46-table.mjs):
// unpacked, it must read exactly like the JSON it replaces.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// From dist/test/: the build script, not compiled.
const TABLE_SCRIPT = new URL("../../scripts/tr46-table.mjs", import.meta.url);

test("the packed tr46 mapping table unpacks to every entry of the original", async () => {
  const { mappingTableModule } = (await import(TABLE_SCRIPT.href)) as { mappingTableModule(json: string): string };
  const path = createRequire(import.meta.url).resolve("tr46/lib/mappingTable.json");
  const json = readFileSync(path, "utf8");
  const original = JSON.parse(json) as unknown[];
  const source = mappingTableModule(json);
  const module: { exports: unknown } = { exports: null };
  new Function("module", source)(module);
  const packed = module.exports as ArrayLike<unknown>;
  assert.equal(packed.length, original.length);
  for (let i = 0; i < original.length; i++) assert.deepEqual(packed[i], original[i], `entry ${i}`);
  assert.equal(packed[original.length], undefined);
  console.log(`tr46 mapping table: ${json.length} B of JSON, ${source.length} B packed`);
});
