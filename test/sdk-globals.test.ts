// The SDK's globals (sdk/globals.d.ts) against the runtime, in a real
// isolate: every global value the typings declare exists, every global the
// runtime installs is declared, and the members of each class and object
// match both ways, but for the differences listed (and explained) below.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import ts from "typescript";
import { repoRoot } from "./support/cli.js";
import { runInIsolate } from "./support/runtime-harness.js";

/**
 * Members the runtime has and the typings leave out, on purpose: each is
 * non-standard, or inherited from where TypeScript types it differently.
 */
const UNTYPED_MEMBERS: Record<string, string[]> = {
  // Node-like extras of console.ts, not in the Console standard.
  console: ["profile", "profileEnd"],
  // Error.prototype.toString: TypeScript types it through Object.
  DOMException: ["toString"],
  // web-streams-polyfill keeps the abortReason the Streams standard replaced by `signal`.
  WritableStreamDefaultController: ["abortReason"],
  // urlpattern-polyfill's comparison helper, not (yet) in the URL Pattern standard.
  "URLPattern (static)": ["compareComponent"],
  // The Cache API's methods Workers has and throws from (runtime/cache.ts): untyped, a compile-time error.
  Cache: ["add", "addAll", "matchAll", "keys"],
  CacheStorage: ["has", "delete", "keys", "match"],
  caches: ["has", "delete", "keys", "match"],
};

/** Members the typings declare that the probe cannot see on a prototype. */
const MISSING_MEMBERS: Record<string, string[]> = {
  // Own properties of each Error instance in V8 (cause only when given), never on the prototype.
  DOMException: ["stack", "cause"],
};

interface TypedGlobal {
  kind: "class" | "object" | "function" | "other";
  instance: string[];
  statics: string[];
}

/** What sdk/globals.d.ts declares, read by TypeScript's checker with no other lib (as a function's tsconfig has it). */
function typedGlobals(): Map<string, TypedGlobal> {
  const probe = join(repoRoot, "fixtures", "__globals-probe__.ts");
  const host = ts.createCompilerHost({});
  const readFile = host.readFile.bind(host);
  host.readFile = (file) => (file === probe ? "export const probe = 1;\n" : readFile(file));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === probe || fileExists(file);
  const program = ts.createProgram({
    rootNames: [join(repoRoot, "sdk", "globals.d.ts"), probe],
    options: { lib: [], types: [], target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, strict: true, noEmit: true },
    host,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  assert.deepEqual(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")), [], "sdk/globals.d.ts compiles on its own");
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(probe)!;
  const names = (type: ts.Type) => checker.getPropertiesOfType(type).map((p) => p.name).filter((name) => !name.startsWith("__@"));
  const globals = new Map<string, TypedGlobal>();
  for (const symbol of checker.getSymbolsInScope(source.statements[0]!, ts.SymbolFlags.Value)) {
    const declaration = symbol.declarations?.[0];
    if (!declaration || declaration.getSourceFile() === source) continue;
    // `declare module "*.html"` (modules that are not code) is in scope as a module, not a global.
    if (symbol.flags & ts.SymbolFlags.ValueModule && ts.isModuleDeclaration(declaration) && ts.isStringLiteral(declaration.name)) continue;
    const type = checker.getTypeOfSymbolAtLocation(symbol, source);
    if (type.getConstructSignatures().length > 0) {
      const prototype = type.getProperty("prototype");
      const instance = prototype ? names(checker.getTypeOfSymbolAtLocation(prototype, source)) : [];
      globals.set(symbol.name, { kind: "class", instance, statics: names(type).filter((name) => name !== "prototype") });
    } else if (type.getCallSignatures().length > 0) {
      globals.set(symbol.name, { kind: "function", instance: [], statics: [] });
    } else if (type.flags & ts.TypeFlags.Object) {
      globals.set(symbol.name, { kind: "object", instance: names(type), statics: [] });
    } else {
      globals.set(symbol.name, { kind: "other", instance: [], statics: [] });
    }
  }
  return globals;
}

interface RuntimeGlobal {
  kind: "class" | "object" | "function" | "other";
  instance: string[];
  statics: string[];
}

/** The same, read from the global object of a real isolate. */
async function runtimeGlobals(): Promise<Record<string, RuntimeGlobal>> {
  return (await runInIsolate(`
    const stop = new Set([Object.prototype, Function.prototype]);
    const names = (object) => {
      const out = new Set();
      for (let o = object; o !== null && !stop.has(o); o = Object.getPrototypeOf(o)) {
        for (const key of Object.getOwnPropertyNames(o)) out.add(key);
      }
      return [...out];
    };
    const result = {};
    for (const name of names(globalThis)) {
      if (name === "constructor") continue;
      const value = globalThis[name];
      let isClass = false;
      if (typeof value === "function" && value.prototype !== undefined && /^[A-Z]/.test(name)) isClass = true;
      if (isClass) {
        result[name] = {
          kind: "class",
          instance: names(value.prototype).filter((key) => key !== "constructor"),
          // Own statics only: TypeScript does not carry Event.NONE over to CustomEvent's constructor type.
          statics: Object.getOwnPropertyNames(value).filter((key) => !["prototype", "length", "name", "arguments", "caller"].includes(key)),
        };
      } else if (typeof value === "function") {
        result[name] = { kind: "function", instance: [], statics: [] };
      } else if (value !== null && typeof value === "object" && value !== globalThis && name !== "Math" && name !== "JSON" && name !== "Reflect" && name !== "Intl") {
        result[name] = { kind: "object", instance: names(value).filter((key) => key !== "constructor"), statics: [] };
      } else {
        result[name] = { kind: "other", instance: [], statics: [] };
      }
    }
    return result;
  `)) as Record<string, RuntimeGlobal>;
}

let typed: Map<string, TypedGlobal>;
let runtime: Record<string, RuntimeGlobal>;

before(async () => {
  typed = typedGlobals();
  runtime = await runtimeGlobals();
});

describe("the SDK's globals", () => {
  it("sdk/web.generated.d.ts is what scripts/sdk-globals.mjs writes", () => {
    execFileSync(process.execPath, [join(repoRoot, "scripts", "sdk-globals.mjs"), "--check"], { cwd: repoRoot, stdio: "pipe" });
  });

  it("declares no global value the runtime lacks", () => {
    const absent = [...typed.keys()].filter((name) => !(name in runtime) && name !== "undefined" && name !== "globalThis");
    assert.deepEqual(absent.sort(), [], `declared in the typings, absent from the isolate: ${absent.join(", ")}`);
  });

  it("declares every global the runtime has", () => {
    // globalThis and undefined are TypeScript's own, not declarations.
    // __atoll_wasm_module is what a bundle's .wasm imports call (runtime/wasm.ts): no user code names it.
    const untyped = Object.keys(runtime).filter((name) => !typed.has(name) && name !== "globalThis" && name !== "undefined" && name !== "__atoll_wasm_module");
    assert.deepEqual(untyped.sort(), [], `present in the isolate, not in the typings: ${untyped.join(", ")}`);
  });

  it("declares SharedArrayBuffer and Atomics nowhere (the runtime deletes them)", () => {
    for (const name of ["SharedArrayBuffer", "Atomics"]) {
      assert.equal(typed.has(name), false, name);
      assert.equal(name in runtime, false, name);
    }
  });

  it("gives each class and object the members the runtime's has", () => {
    const problems: string[] = [];
    for (const [name, declared] of typed) {
      const actual = runtime[name];
      if (!actual || declared.kind === "function" || declared.kind === "other" || name === "self") continue;
      if (["Math", "JSON", "Reflect", "Intl", "Atomics"].includes(name)) continue;
      // ECMAScript's own classes are V8's business, not the runtime's.
      if (!isWebGlobal(name)) continue;
      const missing = declared.instance.filter((member) => !actual.instance.includes(member) && !(MISSING_MEMBERS[name] ?? []).includes(member));
      const untyped = actual.instance.filter((member) => !declared.instance.includes(member) && !(UNTYPED_MEMBERS[name] ?? []).includes(member));
      const missingStatics = declared.statics.filter((member) => !actual.statics.includes(member));
      const untypedStatics = actual.statics.filter((member) => !declared.statics.includes(member) && !(UNTYPED_MEMBERS[`${name} (static)`] ?? []).includes(member));
      if (missing.length) problems.push(`${name}: typed, absent at run time: ${missing.join(", ")}`);
      if (untyped.length) problems.push(`${name}: at run time, untyped: ${untyped.join(", ")}`);
      if (missingStatics.length) problems.push(`${name} (static): typed, absent at run time: ${missingStatics.join(", ")}`);
      if (untypedStatics.length) problems.push(`${name} (static): at run time, untyped: ${untypedStatics.join(", ")}`);
    }
    assert.deepEqual(problems, []);
  });
});

/** A global that the runtime installs (host/runtime/index.ts), rather than one of V8's ECMAScript built-ins. */
function isWebGlobal(name: string): boolean {
  const source = ts.sys.readFile(join(repoRoot, "sdk", "web.generated.d.ts")) ?? "";
  return new RegExp(`^declare (var|function) ${name}\\b`, "m").test(source) || ["navigator", "performance", "URLPattern", "caches", "Cache", "CacheStorage"].includes(name);
}
