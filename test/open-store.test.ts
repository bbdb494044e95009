// `atoll start --store` and `--objects` given something the host cannot use:
// each refused before anything starts, with the option, the value and what to
// write instead; a Redis that does not answer is named with its error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BadStoreUrlError, StoreUnavailableError } from "../host/errors.js";
import { openStore } from "../host/store/open-store.js";
import { freePort } from "./support/ports.js";

async function refused(store: string | undefined, objects: string | undefined): Promise<Error> {
  const dir = mkdtempSync(join(tmpdir(), "atoll-open-store-"));
  try {
    await openStore(dir, store, objects);
  } catch (error) {
    return error as Error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error(`openStore(${store}, ${objects}) was not refused`);
}

test("a --store that is not sqlite or a redis:// URL is refused with what to write", async () => {
  for (const [given, problem] of [
    ["mysql://db:3306", /is not a store Atoll knows: use sqlite \(the default\) or redis:\/\/HOST:PORT\[\/DB\]/],
    ["not a url", /is not a URL: use sqlite/],
    ["redis://127.0.0.1:6379/zero", /names a database that is not a number/],
  ] as const) {
    const error = await refused(given, undefined);
    assert.ok(error instanceof BadStoreUrlError, String(error));
    assert.match(error.message, /^--store "/);
    assert.match(error.message, problem);
  }
});

test("an --objects that is not local or a usable s3:// URL is refused with what to write", async () => {
  for (const [given, problem] of [
    ["gs://bucket", /is not an object store Atoll knows: use local \(the default\) or s3:\/\/BUCKET/],
    ["s3://Bad_Bucket", /does not name an S3 bucket/],
    ["s3://good-bucket?endpont=http://x", /unknown parameter "endpont": only endpoint and region are taken/],
    ["s3://good-bucket?endpoint=ftp://x", /endpoint that is not an http:\/\/ or https:\/\/ URL/],
  ] as const) {
    const error = await refused(undefined, given);
    assert.ok(error instanceof BadStoreUrlError, String(error));
    assert.match(error.message, /^--objects "/);
    assert.match(error.message, problem);
  }
});

test("a Redis that does not answer stops the start with its error and what to do", async () => {
  const port = await freePort();
  const error = await refused(`redis://127.0.0.1:${port}`, undefined);
  assert.ok(error instanceof StoreUnavailableError, String(error));
  assert.match(error.message, new RegExp(`Redis at redis://127\\.0\\.0\\.1:${port} is unreachable \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\): start it, or fix --store, then start the host again`));
});
