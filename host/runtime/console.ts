// console, per the Console Standard (https://console.spec.whatwg.org/) with
// Node's formatting (%s %d %i %f %o %O %j %c, util.inspect for objects).
// Every line goes to the host as one `log` message, credited to the running invocation.
import { currentInvocation, emit, spendLogChars } from "./bridge.js";
import { inspect } from "./inspect.js";
import type { LogLevel } from "./protocol.js";

/** Bounds what one call copies to the host; the host applies its own, lower limit. */
const MAX_MESSAGE_CHARS = 64 * 1024;

/** Node's util.format(): substitutions in a leading string, then the rest joined by spaces. */
export function format(args: unknown[]): string {
  if (args.length === 0) return "";
  const first = args[0];
  let out = "";
  let next = 1;
  if (typeof first === "string") {
    if (args.length === 1 || !first.includes("%")) out = first;
    else {
      let last = 0;
      for (let i = 0; i < first.length - 1; i++) {
        if (first.charCodeAt(i) !== 37 /* % */) continue;
        const directive = first[i + 1]!;
        let replacement: string | undefined;
        if (directive === "%") replacement = "%";
        else if (next < args.length) {
          const arg = args[next];
          switch (directive) {
            case "s":
              replacement =
                typeof arg === "string" ? arg : typeof arg === "bigint" ? `${arg}n` : typeof arg === "object" && arg !== null ? inspect(arg, { depth: 1 }) : String(arg);
              break;
            case "d":
              replacement = typeof arg === "bigint" ? `${arg}n` : typeof arg === "symbol" ? "NaN" : formatNumber(Number(arg));
              break;
            case "i":
              replacement = typeof arg === "bigint" ? `${arg}n` : typeof arg === "symbol" ? "NaN" : formatNumber(parseInt(String(arg), 10));
              break;
            case "f":
              replacement = typeof arg === "symbol" ? "NaN" : formatNumber(parseFloat(String(arg)));
              break;
            case "o":
              replacement = inspect(arg, { depth: 4 });
              break;
            case "O":
              replacement = inspect(arg);
              break;
            case "j":
              replacement = safeJson(arg);
              break;
            case "c":
              replacement = "";
              break;
          }
          if (replacement !== undefined && directive !== "%") next++;
        }
        if (replacement === undefined) continue;
        out += first.slice(last, i) + replacement;
        last = i + 2;
        i++;
      }
      out += first.slice(last);
    }
  } else {
    out = inspect(first);
  }
  for (let i = next; i < args.length; i++) {
    const arg = args[i];
    out += " " + (typeof arg === "string" ? arg : inspect(arg));
  }
  return out;
}

function formatNumber(value: number): string {
  return Object.is(value, -0) ? "-0" : String(value);
}

function safeJson(value: unknown): string {
  try {
    return String(JSON.stringify(value));
  } catch (error) {
    return error instanceof TypeError && /circular/i.test(error.message) ? "[Circular]" : "[unserializable]";
  }
}

let groupIndent = "";
const counts = new Map<string, number>();
const timers = new Map<string, number>();

function send(level: LogLevel, message: string): void {
  let text = groupIndent === "" ? message : groupIndent + message.replace(/\n/g, `\n${groupIndent}`);
  if (text.length > MAX_MESSAGE_CHARS) text = `${text.slice(0, MAX_MESSAGE_CHARS)}... (${text.length - MAX_MESSAGE_CHARS} more characters)`;
  const id = currentInvocation();
  // Counted as the host counts it (./protocol.ts MAX_LOG_CHARS_PER_INVOCATION).
  if (spendLogChars(id, text.length)) emit({ t: "log", id, level, message: text });
}

function labelOf(label: unknown): string {
  return label === undefined ? "default" : String(label);
}

/** A text table like Node's console.table, for arrays and objects of rows. */
function table(data: unknown, columns?: unknown): string {
  if (typeof data !== "object" || data === null) return format([data]);
  const rows: [string, unknown][] =
    data instanceof Map ? Array.from(data, ([key, value]) => [inspect(key), value]) : Object.keys(data).map((key) => [key, (data as Record<string, unknown>)[key]]);
  const keys: string[] = [];
  let hasValues = false;
  for (const [, row] of rows) {
    if (typeof row === "object" && row !== null) {
      for (const key of Object.keys(row)) if (!keys.includes(key)) keys.push(key);
    } else hasValues = true;
  }
  const header = ["(index)", ...(Array.isArray(columns) ? columns.map(String) : keys), ...(hasValues ? ["Values"] : [])];
  const cell = (value: unknown) => (value === undefined ? "" : typeof value === "string" ? value : inspect(value, { depth: 0 }));
  const body = rows.map(([index, row]) => {
    const line = [index];
    for (const key of header.slice(1, hasValues ? -1 : undefined)) {
      line.push(typeof row === "object" && row !== null ? cell((row as Record<string, unknown>)[key]) : "");
    }
    if (hasValues) line.push(typeof row === "object" && row !== null ? "" : cell(row));
    return line;
  });
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((line) => (line[i] ?? "").length)) + 2);
  const pad = (text: string, i: number) => {
    const width = widths[i]!;
    const left = Math.floor((width - text.length) / 2);
    return " ".repeat(left) + text + " ".repeat(width - text.length - left);
  };
  const rule = (l: string, m: string, r: string) => l + widths.map((w) => "─".repeat(w)).join(m) + r;
  const line = (cells: string[]) => "│" + cells.map((text, i) => pad(text, i)).join("│") + "│";
  return [rule("┌", "┬", "┐"), line(header), rule("├", "┼", "┤"), ...body.map(line), rule("└", "┴", "┘")].join("\n");
}

class Console {
  log(...args: unknown[]): void {
    send("log", format(args));
  }
  info(...args: unknown[]): void {
    send("info", format(args));
  }
  debug(...args: unknown[]): void {
    send("debug", format(args));
  }
  warn(...args: unknown[]): void {
    send("warn", format(args));
  }
  error(...args: unknown[]): void {
    send("error", format(args));
  }
  trace(...args: unknown[]): void {
    const stack = (new Error().stack ?? "").split("\n").slice(2).join("\n");
    send("log", `Trace${args.length > 0 ? `: ${format(args)}` : ""}\n${stack}`);
  }
  dir(value: unknown, options?: { depth?: number }): void {
    send("log", inspect(value, options));
  }
  dirxml(...args: unknown[]): void {
    send("log", format(args));
  }
  table(data: unknown, columns?: string[]): void {
    send("log", table(data, columns));
  }
  assert(condition?: unknown, ...args: unknown[]): void {
    if (condition) return;
    send("error", args.length === 0 ? "Assertion failed" : `Assertion failed: ${format(args)}`);
  }
  count(label?: unknown): void {
    const key = labelOf(label);
    const count = (counts.get(key) ?? 0) + 1;
    counts.set(key, count);
    send("log", `${key}: ${count}`);
  }
  countReset(label?: unknown): void {
    const key = labelOf(label);
    if (counts.has(key)) counts.set(key, 0);
    else send("warn", `Count for '${key}' does not exist`);
  }
  group(...label: unknown[]): void {
    if (label.length > 0) send("log", format(label));
    groupIndent += "  ";
  }
  groupCollapsed(...label: unknown[]): void {
    this.group(...label);
  }
  groupEnd(): void {
    groupIndent = groupIndent.slice(2);
  }
  time(label?: unknown): void {
    const key = labelOf(label);
    if (timers.has(key)) send("warn", `Label '${key}' already exists for console.time()`);
    else timers.set(key, Date.now());
  }
  timeLog(label?: unknown, ...data: unknown[]): void {
    const key = labelOf(label);
    const start = timers.get(key);
    if (start === undefined) send("warn", `No such label '${key}' for console.timeLog()`);
    else send("log", `${key}: ${Date.now() - start}ms${data.length > 0 ? ` ${format(data)}` : ""}`);
  }
  timeEnd(label?: unknown): void {
    const key = labelOf(label);
    const start = timers.get(key);
    if (start === undefined) send("warn", `No such label '${key}' for console.timeEnd()`);
    else {
      timers.delete(key);
      send("log", `${key}: ${Date.now() - start}ms`);
    }
  }
  clear(): void {}
  profile(): void {}
  profileEnd(): void {}
  timeStamp(): void {}
}

Object.defineProperty(Console.prototype, Symbol.toStringTag, { value: "console", configurable: true });

/**
 * The console object. Its methods are bound so that `const { log } = console`
 * and `arr.forEach(console.log)` work, as in Node and browsers.
 */
export function createConsole(): Console {
  const instance = new Console();
  const out = Object.create(Console.prototype) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(Console.prototype)) {
    if (name === "constructor") continue;
    const method = (instance as unknown as Record<string, unknown>)[name];
    if (typeof method === "function") {
      Object.defineProperty(out, name, { value: method.bind(instance), writable: true, enumerable: true, configurable: true });
    }
  }
  return out as unknown as Console;
}
