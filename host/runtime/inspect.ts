// A safe, Node-like inspect() for console output: never throws, never calls
// getters, stops at cycles and at a depth limit. Objects may customise their
// output with Symbol.for("nodejs.util.inspect.custom"), as in Node.

export interface InspectOptions {
  /** How many levels of nesting to show; deeper objects print as [Object]. Default 2. */
  depth?: number;
}

const CUSTOM = Symbol.for("nodejs.util.inspect.custom");
const MAX_ITEMS = 100;
const MAX_STRING = 10_000;
const LINE_WIDTH = 80;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;
const functionToString = Function.prototype.toString;
const objectToString = Object.prototype.toString;

interface State {
  depth: number;
  seen: object[];
}

export function inspect(value: unknown, options: InspectOptions = {}): string {
  const depth = options.depth === undefined ? 2 : options.depth === null ? Infinity : Number(options.depth);
  try {
    return formatValue(value, { depth, seen: [] }, 0);
  } catch {
    return "[uninspectable value]";
  }
}

export function quote(text: string): string {
  const clipped = text.length > MAX_STRING ? text.slice(0, MAX_STRING) : text;
  const escaped = clipped.replace(/[\\'\x00-\x1f\x7f]/g, (c) => {
    switch (c) {
      case "\\":
        return "\\\\";
      case "'":
        return "\\'";
      case "\n":
        return "\\n";
      case "\t":
        return "\\t";
      case "\r":
        return "\\r";
      case "\b":
        return "\\b";
      case "\f":
        return "\\f";
      case "\v":
        return "\\v";
      default:
        return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
    }
  });
  const more = text.length > MAX_STRING ? `... ${text.length - MAX_STRING} more characters` : "";
  return `'${escaped}'${more}`;
}

function formatPrimitive(value: unknown): string {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "symbol":
      return value.toString();
    default:
      return String(value);
  }
}

function formatFunction(fn: Function): string {
  let source = "";
  try {
    source = functionToString.call(fn);
  } catch {
    // a revoked proxy
  }
  const name = typeof fn.name === "string" && fn.name !== "" ? fn.name : "";
  if (source.startsWith("class")) return name ? `[class ${name}]` : "[class (anonymous)]";
  const tag = objectToString.call(fn).slice(8, -1);
  const kind = tag === "AsyncFunction" || tag === "GeneratorFunction" || tag === "AsyncGeneratorFunction" ? tag : "Function";
  return name ? `[${kind}: ${name}]` : `[${kind} (anonymous)]`;
}

function formatKey(key: string | symbol): string {
  if (typeof key === "symbol") return `[${key.toString()}]`;
  return IDENTIFIER.test(key) ? key : quote(key);
}

function constructorName(value: object): string | null {
  let proto: object | null = Object.getPrototypeOf(value);
  while (proto !== null) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, "constructor");
    if (descriptor !== undefined && typeof descriptor.value === "function" && descriptor.value.name !== "") return descriptor.value.name;
    proto = Object.getPrototypeOf(proto);
  }
  return null;
}

/** The "Name [Tag] " prefix Node prints before braces; "" for plain objects. */
function prefixOf(value: object, fallback: string): string {
  const name = constructorName(value);
  let tag = "";
  try {
    const raw = (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
    if (typeof raw === "string" && raw !== "" && raw !== name) tag = raw;
  } catch {
    // a throwing toStringTag getter
  }
  if (name === null) return `[${fallback}: null prototype] ${tag ? `[${tag}] ` : ""}`;
  if (name === fallback && fallback === "Object" && tag === "") return "";
  return `${name} ${tag ? `[${tag}] ` : ""}`;
}

/** Own properties as "key: value", without running getters. */
function propertyEntries(value: object, state: State, level: number, skip?: (key: string) => boolean): string[] {
  const out: string[] = [];
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined || !descriptor.enumerable) continue;
    if (typeof key === "string" && skip?.(key)) continue;
    if (out.length >= MAX_ITEMS) {
      out.push("...");
      break;
    }
    let shown: string;
    if ("value" in descriptor) shown = formatValue(descriptor.value, state, level + 1);
    else shown = descriptor.get && descriptor.set ? "[Getter/Setter]" : descriptor.get ? "[Getter]" : "[Setter]";
    out.push(`${formatKey(key)}: ${shown}`);
  }
  return out;
}

function isIndex(key: string): boolean {
  return /^(0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/** Joins entries on one line when they fit, else one per line, indented. */
function wrap(prefix: string, open: string, entries: string[], close: string, level: number): string {
  if (entries.length === 0) return `${prefix}${open}${close}`;
  const oneLine = `${prefix}${open} ${entries.join(", ")} ${close}`;
  if (oneLine.length + level * 2 <= LINE_WIDTH && !oneLine.includes("\n")) return oneLine;
  const indent = "  ".repeat(level + 1);
  return `${prefix}${open}\n${indent}${entries.map((entry) => entry.replace(/\n/g, `\n${indent}`)).join(`,\n${indent}`)}\n${"  ".repeat(level)}${close}`;
}

function formatError(error: Error, state: State, level: number): string {
  let text: string;
  let stack: unknown;
  try {
    stack = error.stack;
  } catch {
    stack = undefined;
  }
  if (typeof stack === "string" && stack !== "") text = stack;
  else {
    let name = "Error";
    let message = "";
    try {
      name = String(error.name);
      message = String(error.message);
    } catch {
      // keep defaults
    }
    text = message ? `${name}: ${message}` : name;
    text = `[${text}]`;
  }
  const extra = propertyEntries(error, state, level, (key) => key === "stack" || key === "message");
  // `cause` is usually non-enumerable: show it anyway, as Node does.
  const cause = Object.getOwnPropertyDescriptor(error, "cause");
  if (cause !== undefined && "value" in cause && !cause.enumerable) extra.push(`[cause]: ${formatValue(cause.value, state, level + 1)}`);
  if (level > 0) text = text.replace(/\n/g, `\n${"  ".repeat(level)}`);
  return extra.length === 0 ? text : `${text} ${wrap("", "{", extra, "}", level)}`;
}

/** One value; a value that cannot be inspected (a revoked proxy ...) does not spoil its neighbours. */
function formatValue(value: unknown, state: State, level: number): string {
  try {
    return formatAny(value, state, level);
  } catch {
    return "[uninspectable value]";
  }
}

function formatAny(value: unknown, state: State, level: number): string {
  if (typeof value === "function") return formatFunction(value);
  if (typeof value !== "object" || value === null) return formatPrimitive(value);

  const custom = (() => {
    try {
      return (value as { [CUSTOM]?: unknown })[CUSTOM];
    } catch {
      return undefined;
    }
  })();
  if (typeof custom === "function" && !state.seen.includes(value)) {
    state.seen.push(value);
    try {
      const result: unknown = custom.call(value, state.depth - level, { depth: state.depth - level }, inspect);
      if (typeof result === "string") return result;
      if (result !== value) return formatValue(result, state, level);
    } finally {
      state.seen.pop();
    }
  }

  if (state.seen.includes(value)) return "[Circular]";
  const tag = objectToString.call(value).slice(8, -1);

  if (value instanceof Error || tag === "Error") {
    state.seen.push(value);
    try {
      return formatError(value as Error, state, level);
    } finally {
      state.seen.pop();
    }
  }
  if (tag === "Date") {
    const time = (value as Date).getTime();
    return Number.isNaN(time) ? "Invalid Date" : (value as Date).toISOString();
  }
  if (tag === "RegExp") return String(value);
  if (tag === "Promise") return "Promise { <unknown> }";
  if (tag === "WeakMap" || tag === "WeakSet" || tag === "WeakRef") return `${tag} { <items unknown> }`;
  if (tag === "Boolean" || tag === "Number" || tag === "String" || tag === "BigInt" || tag === "Symbol") {
    return `[${tag}: ${formatPrimitive((value as { valueOf(): unknown }).valueOf())}]`;
  }

  const isArray = Array.isArray(value);
  const typed = ArrayBuffer.isView(value) ? (typedArrayTag.call(value) as string | undefined) : undefined;
  if (level > state.depth) {
    if (isArray) return "[Array]";
    const name = constructorName(value);
    return `[${name ?? "Object"}]`;
  }

  state.seen.push(value);
  try {
    if (isArray) {
      const array = value as unknown[];
      const entries: string[] = [];
      let holes = 0;
      const limit = Math.min(array.length, MAX_ITEMS);
      for (let i = 0; i < limit; i++) {
        if (!(i in array)) {
          holes++;
          continue;
        }
        if (holes > 0) {
          entries.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`);
          holes = 0;
        }
        entries.push(formatValue(array[i], state, level + 1));
      }
      if (holes > 0) entries.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`);
      if (array.length > MAX_ITEMS) entries.push(`... ${array.length - MAX_ITEMS} more items`);
      entries.push(...propertyEntries(array, state, level, (key) => isIndex(key) || key === "length"));
      const prefix = prefixOf(array, "Array");
      return wrap(prefix === "Array " ? "" : prefix, "[", entries, "]", level);
    }
    if (typed !== undefined) {
      const items = value as unknown as ArrayLike<number | bigint>;
      const entries: string[] = [];
      for (let i = 0; i < Math.min(items.length, MAX_ITEMS); i++) entries.push(formatPrimitive(items[i]));
      if (items.length > MAX_ITEMS) entries.push(`... ${items.length - MAX_ITEMS} more items`);
      return wrap(`${typed}(${items.length}) `, "[", entries, "]", level);
    }
    if (tag === "ArrayBuffer" || tag === "SharedArrayBuffer") {
      const bytes = new Uint8Array(value as ArrayBuffer);
      const hex = Array.from(bytes.subarray(0, 50), (b) => b.toString(16).padStart(2, "0")).join(" ");
      const more = bytes.length > 50 ? ` ... ${bytes.length - 50} more bytes` : "";
      return `${tag} { [Uint8Contents]: <${hex}${more}>, byteLength: ${bytes.length} }`;
    }
    if (tag === "DataView") {
      const view = value as DataView;
      return `DataView { byteLength: ${view.byteLength}, byteOffset: ${view.byteOffset} }`;
    }
    if (tag === "Map") {
      const map = value as Map<unknown, unknown>;
      const entries: string[] = [];
      for (const [key, entry] of map) {
        if (entries.length >= MAX_ITEMS) {
          entries.push(`... ${map.size - MAX_ITEMS} more items`);
          break;
        }
        entries.push(`${formatValue(key, state, level + 1)} => ${formatValue(entry, state, level + 1)}`);
      }
      return wrap(`${prefixOf(map, "Map").trimEnd()}(${map.size}) `, "{", entries, "}", level);
    }
    if (tag === "Set") {
      const set = value as Set<unknown>;
      const entries: string[] = [];
      for (const entry of set) {
        if (entries.length >= MAX_ITEMS) {
          entries.push(`... ${set.size - MAX_ITEMS} more items`);
          break;
        }
        entries.push(formatValue(entry, state, level + 1));
      }
      return wrap(`${prefixOf(set, "Set").trimEnd()}(${set.size}) `, "{", entries, "}", level);
    }
    return wrap(prefixOf(value, "Object"), "{", propertyEntries(value, state, level), "}", level);
  } finally {
    state.seen.pop();
  }
}
