// Cron schedules (`[triggers] crons`): turns each tick of each active
// script's schedules into a queued scheduled event (so retries and the
// dead-letter list apply), with three rules:
//
// - No overlap: a schedule has at most one event in the queue (waiting,
//   running, or waiting to retry). A tick that comes due while it has one is
//   owed, and ticks owed together merge into one run (the latest tick's
//   scheduledTime) that is queued as soon as the previous event leaves.
// - Catch-up once: each schedule's last queued tick is in the store, written
//   in the transaction that queues it. On start-up, if ticks came due while
//   the host was down, the latest of them runs once, not each.
// - A deploy, rollback, promotion or delete that changes a script's
//   schedules takes effect at once (`sync`); a new schedule starts from now.
//
// Work on one script's schedules is serialised, so that a tick, a settled
// event and a deploy never interleave.
import type { Cron } from "croner";
import { parseCronExpression, scheduleName } from "../config/cron-schedule.js";
import { triggersOf, type ScriptConfig } from "../config/script-config.js";
import type { NewQueuedEvent, QueueStore } from "../store/queue.js";

export interface CronSchedulerOptions {
  queue: QueueStore;
  /** The active config of a script, or undefined when it has none (deleted). */
  configOf(script: string): ScriptConfig | undefined;
  /** Queues events durably (through the dispatcher, which it wakes). */
  enqueue(events: NewQueuedEvent[]): Promise<unknown>;
  log(line: string): void;
}

interface Schedule {
  script: string;
  /** As written in atoll.toml. */
  cron: string;
  timezone: string;
  /** How the store and the log name it (scheduleName). */
  name: string;
  parser: Cron;
  /** The next tick this schedule waits for, ms since the epoch. */
  next: number | null;
  timer: NodeJS.Timeout | null;
  /** The latest tick that came due while the schedule had an event in the queue. */
  owed: number | null;
  stopped: boolean;
}

/** Timers are re-armed at least this often (setTimeout's range, clock changes), ms. */
const MAX_TIMER_MS = 60 * 60 * 1000;
/** Steps taken looking for the latest missed tick, at most. */
const MAX_CATCH_UP_STEPS = 200_000;

export class CronScheduler {
  private readonly schedules = new Map<string, Map<string, Schedule>>();
  private readonly work = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly options: CronSchedulerOptions) {}

  /** Starts the schedules of these scripts, catching up a tick each missed while the host was down. */
  async start(scripts: readonly string[]): Promise<void> {
    await Promise.all(scripts.map((script) => this.sync(script)));
  }

  /**
   * Brings a script's running schedules in line with its active config:
   * removed ones stop (their events not yet running are dropped), new ones
   * start from now, unchanged ones carry on.
   */
  sync(script: string): Promise<void> {
    return this.serial(script, async () => {
      if (this.closed) return;
      const config = this.options.configOf(script);
      const triggers = config ? triggersOf(config) : undefined;
      const wanted = new Map<string, string>();
      for (const cron of triggers?.crons ?? []) wanted.set(scheduleName(cron, triggers!.timezone), cron);
      const current = this.schedules.get(script) ?? new Map<string, Schedule>();
      this.schedules.set(script, current);

      for (const [name, schedule] of current) {
        if (wanted.has(name)) continue;
        this.stop(schedule);
        current.delete(name);
        const dropped = await this.options.queue.dropScheduleEvents(script, name);
        this.options.log(`[triggers] ${script}: schedule ${JSON.stringify(name)} removed${dropped > 0 ? ` (${dropped} queued run dropped)` : ""}`);
      }
      await this.options.queue.forgetCronTicks(script, [...wanted.keys()]);
      if (wanted.size === 0) {
        this.schedules.delete(script);
        return;
      }

      const ticks = await this.options.queue.cronTicks(script);
      const now = Date.now();
      for (const [name, cron] of wanted) {
        if (current.has(name)) continue;
        const parsed = parseCronExpression(cron, triggers!.timezone);
        if (!parsed.cron) {
          // Validated at upload; a version saved by an older host could still hold one.
          this.options.log(`[triggers] ${script}: schedule ${JSON.stringify(name)} ${parsed.problem}: not scheduled`);
          continue;
        }
        const schedule: Schedule = { script, cron, timezone: triggers!.timezone, name, parser: parsed.cron, next: null, timer: null, owed: null, stopped: false };
        current.set(name, schedule);
        const last = ticks.get(name);
        if (last === undefined) {
          // A new schedule: no tick before it existed is owed.
          await this.options.queue.setCronTick(script, name, now);
          this.options.log(`[triggers] ${script}: schedule ${JSON.stringify(name)} starts; next run ${this.describeNext(schedule, now)}`);
        } else {
          const missed = latestTick(schedule.parser, last, now);
          if (missed !== undefined) {
            this.options.log(`[triggers] ${script}: schedule ${JSON.stringify(name)} missed its tick at ${new Date(missed).toISOString()} while the host was down: running it once now`);
            await this.fire(schedule, missed);
          }
        }
        this.arm(schedule, now);
      }
    });
  }

  /** An event of a schedule left the queue: queue the tick it owes, if any. */
  settled(script: string, name: string): void {
    void this.serial(script, async () => {
      const schedule = this.schedules.get(script)?.get(name);
      if (!schedule || schedule.stopped || schedule.owed === null) return;
      const tick = schedule.owed;
      schedule.owed = null;
      await this.fire(schedule, tick);
    });
  }

  /** Stops every timer (the host is closing); ticks owed are caught up at the next start. */
  close(): void {
    this.closed = true;
    for (const schedules of this.schedules.values()) for (const schedule of schedules.values()) this.stop(schedule);
    this.schedules.clear();
  }

  /** Schedules of a script as they run now (for the control API). */
  describe(script: string): { cron: string; timezone: string; next: number | null }[] {
    return [...(this.schedules.get(script)?.values() ?? [])].map(({ cron, timezone, next }) => ({ cron, timezone, next }));
  }

  private arm(schedule: Schedule, from: number): void {
    if (schedule.stopped || this.closed) return;
    const next = schedule.parser.nextRun(new Date(from))?.getTime() ?? null;
    schedule.next = next;
    if (next === null) return;
    this.setTimer(schedule);
  }

  private setTimer(schedule: Schedule): void {
    if (schedule.timer) clearTimeout(schedule.timer);
    const wait = Math.min(MAX_TIMER_MS, Math.max(1, schedule.next! - Date.now()));
    schedule.timer = setTimeout(() => this.due(schedule), wait);
    schedule.timer.unref();
  }

  /** A timer went off: fire the latest tick that is due by now, then wait for the next one. */
  private due(schedule: Schedule): void {
    schedule.timer = null;
    if (schedule.stopped || this.closed || schedule.next === null) return;
    const now = Date.now();
    if (now < schedule.next) {
      this.setTimer(schedule);
      return;
    }
    // The event loop may have been held up past several ticks: they merge into the latest.
    const tick = latestTick(schedule.parser, schedule.next - 1, now) ?? schedule.next;
    this.arm(schedule, tick);
    void this.serial(schedule.script, () => this.fire(schedule, tick));
  }

  /** Queues the tick, or owes it while the schedule still has an event in the queue. */
  private async fire(schedule: Schedule, tick: number): Promise<void> {
    if (schedule.stopped || this.closed) return;
    const { queue, configOf, enqueue, log } = this.options;
    if (await queue.hasScheduleEvent(schedule.script, schedule.name)) {
      if (schedule.owed === null) log(`[triggers] ${schedule.script}: schedule ${JSON.stringify(schedule.name)} is still running its previous tick: the tick at ${new Date(tick).toISOString()} waits for it`);
      schedule.owed = Math.max(schedule.owed ?? 0, tick);
      return;
    }
    const config = configOf(schedule.script);
    if (!config) return;
    const { retries, max_event_age_s } = triggersOf(config);
    await enqueue([
      {
        script: schedule.script,
        event: { kind: "scheduled", cron: schedule.cron, scheduledTime: tick },
        schedule: schedule.name,
        maxRetries: retries,
        maxAgeMs: max_event_age_s * 1000,
      },
    ]);
  }

  private stop(schedule: Schedule): void {
    schedule.stopped = true;
    if (schedule.timer) clearTimeout(schedule.timer);
    schedule.timer = null;
  }

  private describeNext(schedule: Schedule, from: number): string {
    const next = schedule.parser.nextRun(new Date(from));
    return next ? next.toISOString() : "never";
  }

  private serial(script: string, task: () => Promise<void>): Promise<void> {
    const run = (this.work.get(script) ?? Promise.resolve()).then(task).catch((error: unknown) => {
      this.options.log(`[triggers] ${script}: cron scheduling failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    });
    this.work.set(script, run);
    void run.finally(() => {
      if (this.work.get(script) === run) this.work.delete(script);
    });
    return run;
  }
}

/**
 * The latest tick of `cron` after `after` and at most `upTo`, ms, or
 * undefined when there is none. Looks back from `upTo` in growing windows,
 * so that a long outage costs a few steps, not one per missed tick.
 */
export function latestTick(cron: Cron, after: number, upTo: number): number | undefined {
  if (upTo <= after) return undefined;
  let steps = 0;
  for (const window of [1_000, 60_000, 3_600_000, 86_400_000, 32 * 86_400_000, 367 * 86_400_000, Infinity]) {
    const from = Math.max(after, upTo - window);
    const first = cron.nextRun(new Date(from));
    if (first !== null && first.getTime() <= upTo) {
      let tick = first.getTime();
      for (;;) {
        const next: number | undefined = cron.nextRun(new Date(tick))?.getTime();
        if (next === undefined || next > upTo || ++steps > MAX_CATCH_UP_STEPS) return tick;
        tick = next;
      }
    }
    if (from === after) return undefined;
  }
  return undefined;
}
