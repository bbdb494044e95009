// Which invocation records a tail or a query wants: by status (5xx, 404),
// outcome, method, trigger, and text anywhere in the record. Parsed from a
// query string (GET /v1/scripts/:name/logs, /invocations) with a clear error
// for each bad value.
import { BadRequestError } from "../errors.js";
import { OUTCOMES, TRIGGERS, type InvocationRecord, type Outcome, type Trigger } from "./records.js";

export interface RecordFilter {
  /** Inclusive status ranges: "5xx" is 500–599, "404" is 404–404. Null: any (events, which have none, included). */
  status: { from: number; to: number }[] | null;
  outcomes: ReadonlySet<Outcome> | null;
  /** Upper-case methods. */
  methods: ReadonlySet<string> | null;
  triggers: ReadonlySet<Trigger> | null;
  /** Lower-cased text to find in the path, event, error or a console line. */
  search: string | null;
}

export const NO_FILTER: RecordFilter = { status: null, outcomes: null, methods: null, triggers: null, search: null };

const STATUS = /^([1-5])(xx|\d\d)$/;
const METHOD = /^[A-Za-z]{1,16}$/;
const MAX_SEARCH_CHARS = 256;

/** The filter a query string asks for; BadRequestError naming the parameter and what it takes. */
export function parseFilter(query: (name: string) => string | undefined): RecordFilter {
  const list = (name: string) => {
    const value = query(name);
    if (value === undefined || value.trim() === "") return null;
    return value.split(",").map((item) => item.trim()).filter((item) => item !== "");
  };
  const status = list("status")?.map((item) => {
    const match = STATUS.exec(item.toLowerCase());
    if (!match) throw new BadRequestError(`status=${JSON.stringify(item)} is not a status: give codes or classes, such as status=5xx,404`);
    if (match[2] === "xx") return { from: Number(match[1]) * 100, to: Number(match[1]) * 100 + 99 };
    const code = Number(item);
    return { from: code, to: code };
  });
  const outcomes = list("outcome")?.map((item) => {
    if (!(OUTCOMES as readonly string[]).includes(item)) throw new BadRequestError(`outcome=${JSON.stringify(item)} is not an outcome: use ${OUTCOMES.join(", ")}`);
    return item as Outcome;
  });
  const methods = list("method")?.map((item) => {
    if (!METHOD.test(item)) throw new BadRequestError(`method=${JSON.stringify(item)} is not an HTTP method, such as GET or POST`);
    return item.toUpperCase();
  });
  const triggers = list("trigger")?.map((item) => {
    if (!(TRIGGERS as readonly string[]).includes(item)) throw new BadRequestError(`trigger=${JSON.stringify(item)} is not a trigger: use ${TRIGGERS.join(", ")}`);
    return item as Trigger;
  });
  const search = query("search");
  if (search !== undefined && search.length > MAX_SEARCH_CHARS) throw new BadRequestError(`search= is at most ${MAX_SEARCH_CHARS} characters`);
  return {
    status: status ?? null,
    outcomes: outcomes ? new Set(outcomes) : null,
    methods: methods ? new Set(methods) : null,
    triggers: triggers ? new Set(triggers) : null,
    search: search ? search.toLowerCase() : null,
  };
}

/** The share of records a tail sends (`sample=0.1`: one in ten), 1 when absent. */
export function parseSampleRate(value: string | undefined): number {
  if (value === undefined || value === "") return 1;
  const rate = Number(value);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 1) throw new BadRequestError(`sample=${JSON.stringify(value)} must be a number above 0 and at most 1, such as sample=0.1 for one invocation in ten`);
  return rate;
}

/** What a filter reads of a record: live (a tail) or stored (a query). */
export type FilteredFields = Pick<InvocationRecord, "status" | "outcome" | "method" | "trigger" | "path" | "event" | "error" | "logs">;

export function matches(record: FilteredFields, filter: RecordFilter): boolean {
  if (filter.status !== null) {
    const status = record.status;
    if (status === null || !filter.status.some((range) => status >= range.from && status <= range.to)) return false;
  }
  if (filter.outcomes !== null && !filter.outcomes.has(record.outcome)) return false;
  if (filter.methods !== null && (record.method === null || !filter.methods.has(record.method))) return false;
  if (filter.triggers !== null && !filter.triggers.has(record.trigger)) return false;
  if (filter.search !== null) {
    const needle = filter.search;
    const found =
      (record.path?.toLowerCase().includes(needle) ?? false) ||
      (record.event?.toLowerCase().includes(needle) ?? false) ||
      (record.error?.toLowerCase().includes(needle) ?? false) ||
      record.logs.some((line) => line.message.toLowerCase().includes(needle));
    if (!found) return false;
  }
  return true;
}

/** "90s", "30m", "12h", "7d" as ms; null for anything else. */
export function durationMs(value: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value.trim());
  return match ? Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" | "m" | "h" | "d"] : null;
}

/** "1h", "30m", "7d", "90s" ago as ms since the epoch; or an ISO 8601 time. BadRequestError otherwise. */
export function parseSince(value: string, now = Date.now()): number {
  const ago = durationMs(value);
  if (ago !== null) return now - ago;
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new BadRequestError(`since=${JSON.stringify(value)} is not a time: give a duration such as 1h, 30m, 7d, or an ISO 8601 time`);
  return time;
}
