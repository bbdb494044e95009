// Parsers for the CLI's option values (commander calls them with the text
// given); each refuses a bad value with a message that says what it expects.
import { InvalidArgumentError } from "commander";
import { durationMs } from "../host/observe/filter.js";

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError("expected a port number from 0 to 65535");
  return port;
}

/** Worker processes: 1 to 256. */
export function parseCount(value: string): number {
  const count = Number(value);
  if (!/^\d+$/.test(value) || count < 1 || count > 256) throw new InvalidArgumentError("expected a whole number from 1 to 256");
  return count;
}

export function parsePositive(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return number;
}

/** For repeatable options: each value is appended. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A duration such as 90s, 30m, 12h or 7d, as ms. */
export function parseDuration(value: string): number {
  const ms = durationMs(value);
  if (ms === null || ms <= 0) throw new InvalidArgumentError("expected a duration such as 90s, 30m, 12h or 7d");
  return ms;
}
