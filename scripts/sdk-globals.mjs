// Writes sdk/web.generated.d.ts: the declarations of TypeScript's own
// lib.webworker.d.ts for exactly the globals the Atoll runtime installs, and
// the types they reach. The runtime's list is read from host/runtime/index.ts
// (its `globals` object), so the typings follow the runtime; what the
// runtime does differently from a browser worker is declared by hand in
// sdk/globals.d.ts, and this script leaves those names alone.
//
//   node scripts/sdk-globals.mjs           rewrite the file
//   node scripts/sdk-globals.mjs --check   exit 1 when the file is not what this script would write
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const libDir = dirname(require.resolve("typescript/lib/lib.d.ts"));
const LIB_FILES = ["lib.webworker.d.ts", "lib.webworker.iterable.d.ts", "lib.webworker.asynciterable.d.ts"];
const OUTPUT = join(root, "sdk", "web.generated.d.ts");
const HANDWRITTEN = join(root, "sdk", "globals.d.ts");
const RUNTIME_INDEX = join(root, "host", "runtime", "index.ts");

/**
 * Members lib.webworker.d.ts declares that the runtime's objects do not have
 * (test/sdk-globals.test.ts compares both, in a real isolate). Removing them
 * from the typings turns a run-time `undefined` into a compile-time error.
 * Keyed by interface or global variable name.
 */
const OMITTED_MEMBERS = {
  // Legacy initializers, deprecated by the DOM standard: use the constructors' init dictionaries.
  CustomEvent: ["initCustomEvent"],
  MessageEvent: ["initMessageEvent"],
  // Only set by <input type=file webkitdirectory> in browsers.
  File: ["webkitRelativePath"],
  // Blob URLs need a document or worker origin to resolve them in; an isolate has none.
  URL: ["createObjectURL", "revokeObjectURL"],
};

/**
 * Declarations in sdk/globals.d.ts after this line add to lib.webworker's
 * (interface merging) instead of replacing them.
 */
const ADDITIONS_MARKER = "// @sdk-globals additions";

/** Globals the runtime installs besides its `globals` object: the global scope's EventTarget side (global-scope.ts). */
const GLOBAL_SCOPE_NAMES = ["addEventListener", "removeEventListener", "dispatchEvent", "onerror", "onunhandledrejection"];

function parse(file) {
  return ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
}

/** The keys of `const globals = { … }` in host/runtime/index.ts. */
export function runtimeGlobalNames() {
  const source = parse(RUNTIME_INDEX);
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (declaration.name.getText(source) !== "globals" || !declaration.initializer || !ts.isObjectLiteralExpression(declaration.initializer)) continue;
      return declaration.initializer.properties.map((property) => property.name.getText(source)).concat(GLOBAL_SCOPE_NAMES);
    }
  }
  throw new Error(`no \`const globals = { … }\` in ${RUNTIME_INDEX}`);
}

/** Top-level declarations by name: type side (interfaces, type aliases) and value side (vars, functions). */
function indexDeclarations(sources) {
  const types = new Map();
  const values = new Map();
  const add = (map, name, entry) => map.set(name, [...(map.get(name) ?? []), entry]);
  sources.forEach((source, fileIndex) => {
    for (const statement of source.statements) {
      const entry = { source, statement, order: fileIndex * 1e9 + statement.pos };
      if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) add(types, statement.name.text, entry);
      else if (ts.isFunctionDeclaration(statement) && statement.name) add(values, statement.name.text, entry);
      else if (ts.isVariableStatement(statement)) for (const declaration of statement.declarationList.declarations) add(values, declaration.name.getText(source), entry);
      else if (ts.isModuleDeclaration(statement)) {
        add(types, statement.name.text, entry);
        add(values, statement.name.text, entry);
      }
    }
  });
  return { types, values };
}

/** Every name a node refers to as a type (or, through `typeof`, as a value). */
function referencedNames(node, source, omitted = new Set()) {
  const typeNames = new Set();
  const valueNames = new Set();
  const visit = (child) => {
    if ((ts.isPropertySignature(child) || ts.isMethodSignature(child)) && child.name && omitted.has(child.name.getText(source))) return;
    if (ts.isTypeReferenceNode(child) || ts.isExpressionWithTypeArguments(child)) {
      const name = ts.isTypeReferenceNode(child) ? child.typeName : child.expression;
      typeNames.add(leftmost(name).getText(source));
    } else if (ts.isTypeQueryNode(child)) {
      valueNames.add(leftmost(child.exprName).getText(source));
    }
    ts.forEachChild(child, visit);
  };
  ts.forEachChild(node, visit);
  return { typeNames, valueNames };
}

function leftmost(name) {
  if (ts.isQualifiedName(name)) return leftmost(name.left);
  if (ts.isPropertyAccessExpression(name)) return leftmost(name.expression);
  return name;
}

/** The members named in `omitted`, in an interface or in the type literal of a `declare var`. */
function omittedMembers(statement, source, omitted) {
  if (omitted.size === 0) return [];
  let members = [];
  if (ts.isInterfaceDeclaration(statement)) members = statement.members;
  else if (ts.isVariableStatement(statement)) {
    const type = statement.declarationList.declarations[0]?.type;
    if (type && ts.isTypeLiteralNode(type)) members = type.members;
  }
  return members.filter((member) => member.name && omitted.has(member.name.getText(source)));
}

/** The statement's text with its JSDoc, minus the members named in `omitted`. */
function statementText(entry, omitted) {
  const { source, statement } = entry;
  let text = source.text.slice(statement.getFullStart(), statement.getEnd());
  {
    const cuts = omittedMembers(statement, source, omitted);
    for (const member of cuts.reverse()) {
      const start = member.getFullStart() - statement.getFullStart();
      const end = member.getEnd() - statement.getFullStart();
      text = text.slice(0, start) + text.slice(end);
    }
  }
  return text.replace(/^\n+/, "");
}

/**
 * The names sdk/globals.d.ts declares in place of lib.webworker's (types and
 * values apart: it may replace `declare var ReadableStream` and keep the
 * interface), and the names its declarations reach.
 */
function handwritten() {
  const source = parse(HANDWRITTEN);
  const additionsAt = source.text.indexOf(ADDITIONS_MARKER);
  if (additionsAt === -1) throw new Error(`${HANDWRITTEN} has no "${ADDITIONS_MARKER}" line`);
  const declaredTypes = new Set();
  const declaredValues = new Set();
  const reached = { typeNames: new Set(), valueNames: new Set() };
  for (const statement of source.statements) {
    const replaces = statement.getStart(source) < additionsAt;
    if (ts.isModuleDeclaration(statement) && ts.isIdentifier(statement.name)) {
      // A namespace (WebAssembly) is declared whole by hand: lib.webworker's is left out.
      declaredTypes.add(statement.name.text);
      declaredValues.add(statement.name.text);
      continue;
    } else if (!replaces) {
      // Merged into lib.webworker's declaration of the same name.
    } else if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) {
      declaredTypes.add(statement.name.text);
    } else if (ts.isFunctionDeclaration(statement) && statement.name) {
      declaredValues.add(statement.name.text);
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) declaredValues.add(declaration.name.getText(source));
    }
    const names = referencedNames(statement, source);
    for (const name of names.typeNames) reached.typeNames.add(name);
    for (const name of names.valueNames) reached.valueNames.add(name);
  }
  return { declaredTypes, declaredValues, reached };
}

export function generateWebGlobals() {
  const sources = LIB_FILES.map((file) => parse(join(libDir, file)));
  const { types, values } = indexDeclarations(sources);
  const own = handwritten();
  const chosen = new Map();
  const typeQueue = [...own.reached.typeNames];
  const valueQueue = [...runtimeGlobalNames(), ...own.reached.valueNames];
  const seenTypes = new Set();
  const seenValues = new Set();

  const take = (entries, name) => {
    const omitted = new Set(OMITTED_MEMBERS[name] ?? []);
    for (const entry of entries) {
      if (chosen.has(entry.order)) continue;
      chosen.set(entry.order, statementText(entry, omitted));
      const names = referencedNames(entry.statement, entry.source, omitted);
      typeQueue.push(...names.typeNames);
      valueQueue.push(...names.valueNames);
    }
  };

  while (typeQueue.length > 0 || valueQueue.length > 0) {
    while (valueQueue.length > 0) {
      const name = valueQueue.pop();
      if (seenValues.has(name) || own.declaredValues.has(name) || name === "globalThis") continue;
      seenValues.add(name);
      const entries = values.get(name);
      if (!entries) throw new Error(`the runtime has a global \`${name}\` that lib.webworker.d.ts does not declare: declare it in sdk/globals.d.ts`);
      take(entries, name);
      // `declare var Request: { new(): Request }` and `interface Request` go together.
      typeQueue.push(name);
    }
    while (typeQueue.length > 0) {
      const name = typeQueue.pop();
      if (seenTypes.has(name) || own.declaredTypes.has(name)) continue;
      seenTypes.add(name);
      // Not in lib.webworker: an ES lib type (Promise, Uint8Array …) or a type parameter.
      const entries = types.get(name);
      if (entries) take(entries, name);
    }
  }

  const body = [...chosen.entries()].sort(([a], [b]) => a - b).map(([, text]) => text);
  return [
    "// GENERATED by scripts/sdk-globals.mjs from TypeScript's lib.webworker.d.ts",
    `// (typescript ${ts.version}): the declarations of the globals the Atoll runtime`,
    "// installs (host/runtime/index.ts) and the types they reach, nothing else.",
    "// Do not edit: change sdk/globals.d.ts or the script, then run it again.",
    "",
    ...body,
    "",
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = generateWebGlobals();
  if (process.argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(OUTPUT, "utf8");
    } catch {
      // missing: out of date
    }
    if (current !== text) {
      console.error(`${OUTPUT} is out of date: run \`node scripts/sdk-globals.mjs\``);
      process.exit(1);
    }
    console.log(`${OUTPUT} is up to date`);
  } else {
    writeFileSync(OUTPUT, text);
    console.log(`wrote ${OUTPUT} (${text.split("\n").length} lines)`);
  }
}
