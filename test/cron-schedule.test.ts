// Cron expressions and the scheduler's arithmetic, without a host: time zones
// (daylight saving included), and finding the latest tick missed during a
// long outage in a few steps rather than one per tick.
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { canonicalTimeZone, parseCronExpression, scheduleName } from "../host/config/cron-schedule.js";
import { latestTick } from "../host/triggers/cron-scheduler.js";

const at = (iso: string) => Date.parse(iso);

describe("cron expressions", () => {
  it("read in their time zone, through daylight saving time", () => {
    const { cron } = parseCronExpression("0 3 * * *", "Europe/Paris");
    assert.ok(cron);
    assert.equal(cron.nextRun(new Date("2025-01-10T12:00:00Z"))?.toISOString(), "2025-01-11T02:00:00.000Z");
    assert.equal(cron.nextRun(new Date("2025-07-10T12:00:00Z"))?.toISOString(), "2025-07-11T01:00:00.000Z");
    const utc = parseCronExpression("0 3 * * *", "UTC").cron!;
    assert.equal(utc.nextRun(new Date("2025-07-10T12:00:00Z"))?.toISOString(), "2025-07-11T03:00:00.000Z");
  });

  it("take a seconds field, names and nicknames; refuse what is not one", () => {
    assert.equal(parseCronExpression("*/10 * * * * *", "UTC").cron?.nextRun(new Date("2025-01-01T00:00:01Z"))?.toISOString(), "2025-01-01T00:00:10.000Z");
    assert.equal(parseCronExpression("0 9 * * MON", "UTC").cron?.nextRun(new Date("2025-01-01T00:00:00Z"))?.toISOString(), "2025-01-06T09:00:00.000Z");
    assert.ok(parseCronExpression("@hourly", "UTC").cron);
    assert.match(parseCronExpression("", "UTC").problem!, /^is empty/);
    assert.match(parseCronExpression("0 0 31 4 *", "UTC").problem!, /^never fires/);
    assert.match(parseCronExpression("1 2 3", "UTC").problem!, /^is not a cron expression: invalid configuration format/);
  });

  it("name time zones canonically", () => {
    assert.equal(canonicalTimeZone("europe/paris"), "Europe/Paris");
    assert.equal(canonicalTimeZone("UTC"), "UTC");
    assert.equal(canonicalTimeZone("Mars/Olympus"), undefined);
    assert.equal(scheduleName("0 3 * * *", "UTC"), "0 3 * * *");
    assert.equal(scheduleName("0 3 * * *", "Europe/Paris"), "0 3 * * * (Europe/Paris)");
  });
});

describe("latestTick", () => {
  it("finds the latest tick missed, or none", () => {
    const daily = parseCronExpression("0 3 * * *", "UTC").cron!;
    assert.equal(latestTick(daily, at("2025-01-01T00:00:00Z"), at("2025-01-05T12:00:00Z")), at("2025-01-05T03:00:00Z"));
    assert.equal(latestTick(daily, at("2025-01-05T03:00:00Z"), at("2025-01-05T12:00:00Z")), undefined, "the last tick itself is not missed");
    assert.equal(latestTick(daily, at("2025-01-05T04:00:00Z"), at("2025-01-05T12:00:00Z")), undefined);
    assert.equal(latestTick(daily, at("2025-01-05T12:00:00Z"), at("2025-01-05T12:00:00Z")), undefined);
    const yearly = parseCronExpression("0 0 1 1 *", "UTC").cron!;
    assert.equal(latestTick(yearly, at("2020-06-01T00:00:00Z"), at("2025-06-01T00:00:00Z")), at("2025-01-01T00:00:00Z"));
  });

  it("costs little after a month down with a schedule that fires every second", () => {
    const everySecond = parseCronExpression("* * * * * *", "UTC").cron!;
    const started = performance.now();
    assert.equal(latestTick(everySecond, at("2025-01-01T00:00:00Z"), at("2025-02-01T00:00:00.500Z")), at("2025-02-01T00:00:00Z"));
    assert.ok(performance.now() - started < 100);
    // Bursts: every second of 03:00–03:59, looked for at 04:10.
    const burst = parseCronExpression("* * 3 * * *", "UTC").cron!;
    assert.equal(latestTick(burst, at("2025-01-01T00:00:00Z"), at("2025-01-05T04:10:00Z")), at("2025-01-05T03:59:59Z"));
  });
});
