// The in-isolate runtime script (dist/runtime/runtime.js) and its V8 code cache,
// produced once per worker process by the host itself and reused by every isolate.
// The cache is taken after the runtime has run (runtime-warmup.ts), so that it
// holds the functions V8 compiled lazily too: boots take about half as long.
import ivm from "isolated-vm";
import { readFileSync } from "node:fs";

const RUNTIME_URL = new URL("../../../runtime/runtime.js", import.meta.url);
const ORIGIN = { filename: "atoll:runtime.js" };

export class RuntimeImage {
  private cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined;

  private constructor(private readonly code: string) {}

  static load(): RuntimeImage {
    return new RuntimeImage(readFileSync(RUNTIME_URL, "utf8"));
  }

  /** Compiles the runtime for `isolate`, from code cache when there is a usable one. */
  async compile(isolate: ivm.Isolate): Promise<ivm.Script> {
    if (this.cachedData) {
      const script = (await isolate.compileScript(this.code, { ...ORIGIN, cachedData: this.cachedData })) as WithCachedData<ivm.Script>;
      if (!script.cachedDataRejected) return script;
      this.cachedData = undefined;
    }
    return isolate.compileScript(this.code, ORIGIN);
  }

  /** After the runtime ran in `isolate`: keep a code cache of what V8 compiled, if there is none yet. */
  async captureCache(isolate: ivm.Isolate): Promise<void> {
    if (this.cachedData) return;
    const script = (await isolate.compileScript(this.code, { ...ORIGIN, produceCachedData: true })) as WithCachedData<ivm.Script>;
    this.cachedData ??= script.cachedData;
    script.release();
  }
}

/** isolated-vm sets these on compiled scripts and modules; its typings leave them out. */
export type WithCachedData<T> = T & { cachedData?: ivm.ExternalCopy<ArrayBuffer>; cachedDataRejected?: boolean };
