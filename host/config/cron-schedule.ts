// Cron expressions and time zones (`[triggers] crons`, `timezone` in
// atoll.toml): what a valid one looks like, parsed by croner.
//
//   "*/5 * * * *"        minute hour day-of-month month day-of-week
//   "*/10 * * * * *"     the same with a seconds field first
//   "0 3 * * MON-FRI"    names for days and months, ranges, lists, steps
//   "@daily"             @yearly, @monthly, @weekly, @daily, @hourly
//
// Day-of-month and day-of-week combine as in Vixie cron: either may match.
import { Cron } from "croner";

export type CronParse = { cron: Cron; problem?: undefined } | { cron?: undefined; problem: string };

/** Parses `expression` in `timezone` (an IANA name, already checked); says why it is no cron expression. */
export function parseCronExpression(expression: string, timezone: string): CronParse {
  const trimmed = expression.trim();
  if (trimmed === "") return { problem: "is empty: write a cron expression such as \"*/5 * * * *\"" };
  let cron: Cron;
  try {
    cron = new Cron(trimmed, { paused: true, timezone, legacyMode: true });
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^CronPattern: /, "");
    return {
      problem: `is not a cron expression: ${reason.charAt(0).toLowerCase()}${reason.slice(1)} (write five fields: minute hour day-of-month month day-of-week, six with a seconds field first, or @hourly, @daily …)`,
    };
  }
  if (cron.nextRun() === null) return { problem: "never fires (no date matches it): check the day and month fields" };
  return { cron };
}

let zones: string[] | undefined;

/** Names already looked up, and their canonical form (null: none): an Intl.DateTimeFormat costs ~130 µs, and every upload with a schedule asks twice. */
const canonicalZones = new Map<string, string | null>();
/** Names remembered at most: the names are the users', and their case variants alone are unbounded. */
const MAX_REMEMBERED_ZONES = 1024;

/** The canonical name of an IANA time zone ("europe/paris" → "Europe/Paris"), or undefined when there is none. */
export function canonicalTimeZone(name: string): string | undefined {
  if (name === "" || name.length > 64) return undefined;
  const known = canonicalZones.get(name);
  if (known !== undefined) return known ?? undefined;
  let canonical: string | null;
  try {
    canonical = new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    canonical = null;
  }
  if (canonicalZones.size < MAX_REMEMBERED_ZONES) canonicalZones.set(name, canonical);
  return canonical ?? undefined;
}

/** Every time zone name the host knows (for suggestions). */
export function knownTimeZones(): readonly string[] {
  zones ??= ["UTC", ...Intl.supportedValuesOf("timeZone")];
  return zones;
}

/** How a schedule is named in the store and in log lines: the expression, and its zone unless UTC. */
export function scheduleName(cron: string, timezone: string): string {
  return timezone === "UTC" ? cron : `${cron} (${timezone})`;
}
