// The host's own config file (`atoll start --config FILE`), TOML: the schema
// below is its single source of truth, its type and its error messages. For
// now it holds one section, [billing], the price table that turns usage into
// a cost (../observe/billing.ts).
import { readFile } from "node:fs/promises";
import { parse as parseToml, TomlError } from "smol-toml";
import * as z from "zod";
import { BadHostConfigError } from "../errors.js";

/** A price in the table's currency: a finite number ≥ 0; left out, 0 (free). */
function price(unit: string) {
  const problem = `must be a number of at least 0 (the price ${unit}; 0 is free)`;
  return z.number({ error: problem }).min(0, { error: problem }).default(0);
}

/**
 * What each unit of usage costs, named after what it prices, per unit as
 * Lambda's and Workers' price pages put it. GB means 1e9 bytes. Every price
 * defaults to 0 (free). No free allowances: every unit is billed.
 */
export const billingSchema = z.strictObject(
  {
    /** What the prices are in, shown beside every cost ("USD" shows as "$"). Default "USD". */
    currency: z
      .string({ error: 'must be a currency such as "USD" or "EUR"' })
      .regex(/^[\p{L}\p{N}\p{Sc}._-]{1,16}$/u, { error: 'must be 1 to 16 letters, digits or currency signs, such as "USD" or "EUR"' })
      .default("USD"),
    /** Per million requests (invocations of any trigger). */
    requests_per_million: price("per million requests"),
    /** Per million CPU-milliseconds. */
    cpu_ms_per_million: price("per million CPU-milliseconds"),
    /** Per GB-second: wall seconds × memory_mb / 1024, as Lambda bills duration. */
    gb_second: price("per GB-second"),
    /** Per GB (1e9 bytes) of response bodies sent: egress. */
    egress_gb: price("per GB of responses sent"),
    /** Per GB (1e9 bytes) of outbound fetch bodies, sent and received. */
    fetch_gb: price("per GB of fetch bodies sent and received"),
    /** Per million KV gets. */
    kv_reads_per_million: price("per million KV reads"),
    /** Per million KV puts and deletes. */
    kv_writes_per_million: price("per million KV writes"),
    /** Per million KV lists. */
    kv_lists_per_million: price("per million KV lists"),
    /** Per million bucket puts and lists (R2's class A). */
    bucket_class_a_per_million: price("per million bucket class A operations"),
    /** Per million bucket gets and heads (R2's class B). */
    bucket_class_b_per_million: price("per million bucket class B operations"),
    /** Per GB (1e9 bytes) stored for a month; an hour is 1/730 of a month. */
    storage_gb_month: price("per GB-month stored"),
  },
  { error: "must be a table" },
);

export const hostConfigSchema = z.strictObject(
  {
    /** The price table; left out, usage has no cost. */
    billing: billingSchema.optional(),
  },
  { error: "must be a table" },
);

/** A validated [billing] table, every price filled in. */
export type PriceTable = z.output<typeof billingSchema>;
/** A validated host config file. */
export type HostConfig = z.output<typeof hostConfigSchema>;

/** Keys each table takes, for "unknown key" messages. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  "": Object.keys(hostConfigSchema.shape),
  billing: Object.keys(billingSchema.shape),
};

/** Reads, parses and validates the host config file at `path` (as the user gave it: messages name it so). */
export async function loadHostConfigFile(path: string): Promise<HostConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new BadHostConfigError([`no host config file at ${path} (given to --config): create it, or start without --config`]);
    throw new BadHostConfigError([`cannot read the host config file ${path}: ${(error as Error).message}`]);
  }
  return parseHostConfig(parseHostToml(text, path), path);
}

/** Validates a parsed host config. Throws BadHostConfigError listing every problem, each naming its key and `source`. */
export function parseHostConfig(value: unknown, source: string): HostConfig {
  const result = hostConfigSchema.safeParse(value);
  if (result.success) return result.data;
  throw new BadHostConfigError(result.error.issues.flatMap((issue) => describeIssue(issue, value, source)));
}

function parseHostToml(text: string, path: string): unknown {
  try {
    return parseToml(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    throw new BadHostConfigError([`${path}:${error.line}:${error.column}: TOML syntax error: ${reason}\n    ${error.codeblock.trimEnd().replace(/\n/g, "\n    ")}`]);
  }
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown, source: string): string[] {
  if (issue.code === "unrecognized_keys") {
    const table = issue.path.map(String).join(".");
    const known = KNOWN_KEYS[table] ?? [];
    return issue.keys.map((key) => {
      if (table === "") {
        const what = isTable(valueAt(input, [key])) ? `section \`[${key}]\`` : `key \`${key}\``;
        return `unknown ${what} in ${source}: a host config has only a [billing] section; remove it`;
      }
      return `unknown key \`${table}.${key}\` in ${source}: remove it or fix its name; [${table}] takes ${known.join(", ")}`;
    });
  }
  if (issue.path.length === 0) return [`the host config in ${source} must be a table of sections such as [billing] (got ${describeValue(input)})`];
  const value = valueAt(input, issue.path);
  return [`\`${issue.path.map(String).join(".")}\` ${issue.message} in ${source}${value === undefined ? "" : ` (got ${describeValue(value)})`}`];
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const segment of path) {
    if (!isTable(current)) return undefined;
    current = current[segment as string];
  }
  return current;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object") return "a table";
  return String(value);
}
