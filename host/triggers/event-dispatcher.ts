// Delivers the durable queue's events to functions, at least once: claims the
// events that are due, runs each against its script's active version, and
// settles it: handled events leave the queue, failed ones are retried with
// exponential back-off until their retries or their age run out, then moved
// to the script's dead-letter list. A claim is only ever settled by the host
// that made it. A host that stops waits a little for the runs in progress; one
// that dies (or gives up waiting) leaves their claims, and the next start
// releases them, so those events run again; on a queue several hosts share,
// the others take them over once their short lease ends (renewed while a run
// goes on).
import type { Observer } from "../observe/observer.js";
import type { Executor } from "../executor/executor.js";
import type { Deployments } from "../front/deployments.js";
import type { NewQueuedEvent, QueuedEvent, QueuedInvocation, QueueStore } from "../store/queue.js";
import { invoke } from "./invoke.js";

export interface DispatcherSettings {
  /** Events run at once, over every script. */
  concurrency: number;
  /** The first retry waits this long; each next one twice as long, ms. */
  retryBaseDelayMs: number;
  /** No retry waits longer than this, ms. */
  retryMaxDelayMs: number;
  /** How long a claim holds an event against other claimants, ms (runs end sooner: wall_ms). */
  leaseMs: number;
  /** How long a stopping host waits for the runs in progress to settle, ms. */
  drainMs: number;
}

export interface EventDispatcherOptions {
  queue: QueueStore;
  deployments: Deployments;
  executor: Executor;
  settings: DispatcherSettings;
  log(line: string): void;
  /** An event left the queue, handled or dead-lettered (the cron scheduler waits for its schedule's). */
  onSettled(event: QueuedEvent): void;
  /** Gets a record of every event's invocation. */
  observer?: Observer;
}

/** Re-checks the queue at least this often even when nothing woke the dispatcher, ms. */
const IDLE_POLL_MS = 30_000;

export class EventDispatcher {
  private readonly inFlight = new Map<number, Promise<void>>();
  private pumping = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private started = false;
  /** Stopping: no more claims. */
  private draining = false;
  /** Stopped: results are no longer recorded (the claims stay for the next start). */
  private closed = false;

  constructor(private readonly options: EventDispatcherOptions) {}

  /** Releases the claims a previous run of the host left (it died or stopped mid-run), then starts delivering. */
  async start(): Promise<void> {
    const released = await this.options.queue.releaseClaims();
    if (released > 0) this.options.log(`[triggers] ${released} event(s) were running when the host last stopped: they run again`);
    this.started = true;
    this.wake();
    const { queue, settings } = this.options;
    if (queue.renewClaims) {
      // A shared queue's leases are short: keep the claims of events still running, a third of a lease ahead.
      this.renewTimer = setInterval(() => {
        if (this.inFlight.size === 0) return;
        queue.renewClaims!([...this.inFlight.keys()], Date.now() + settings.leaseMs).catch((error: unknown) => {
          this.options.log(`[triggers] could not renew the claims of running events: ${error instanceof Error ? error.message : String(error)}`);
        });
      }, Math.max(100, Math.floor(settings.leaseMs / 3)));
      this.renewTimer.unref();
    }
  }

  /** Adds events to the queue; resolves once they are durable (`now`: see QueueStore.enqueue). */
  async enqueue(events: NewQueuedEvent[], options: { now?: boolean } = {}): Promise<QueuedEvent[]> {
    const queued = await this.options.queue.enqueue(events, options);
    this.wake();
    return queued;
  }

  /** Something may be due: look at the queue soon. */
  wake(): void {
    if (!this.started || this.draining) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    setImmediate(() => void this.pump());
  }

  /**
   * Stops claiming, waits up to `drainMs` for the runs in progress to settle,
   * then stops recording results: a run still going is left claimed, and the
   * next start runs it again.
   */
  async close(): Promise<void> {
    this.draining = true;
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.settings.drainMs)));
      await Promise.race([Promise.allSettled(this.inFlight.values()), waited]);
      clearTimeout(timer);
    }
    this.closed = true;
  }

  private async pump(): Promise<void> {
    try {
      do {
        this.again = false;
        const free = this.options.settings.concurrency - this.inFlight.size;
        if (free <= 0 || this.draining) break;
        const claimed = await this.options.queue.claim(Date.now(), free, this.options.settings.leaseMs);
        for (const event of claimed) {
          if (this.inFlight.has(event.id)) continue;
          const run = this.deliver(event).finally(() => {
            this.inFlight.delete(event.id);
            this.wake();
          });
          this.inFlight.set(event.id, run);
        }
        if (claimed.length === free) this.again = true;
      } while (this.again && !this.draining);
      await this.armTimer();
    } catch (error) {
      this.options.log(`[triggers] the queue could not be read: ${error instanceof Error ? error.message : String(error)}`);
      if (!this.draining) this.setTimer(1000);
    } finally {
      this.pumping = false;
      if (this.again) this.wake();
    }
  }

  private async armTimer(): Promise<void> {
    if (this.draining) return;
    const next = await this.options.queue.nextDueAt();
    this.setTimer(next === undefined ? IDLE_POLL_MS : Math.min(IDLE_POLL_MS, Math.max(0, next - Date.now())));
  }

  private setTimer(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.wake();
    }, ms);
    this.timer.unref();
  }

  private async deliver(queued: QueuedEvent): Promise<void> {
    const { queue, deployments, executor, log, settings } = this.options;
    const label = `${queued.script} ${describeEvent(queued.event)} #${queued.id}`;
    try {
      const now = Date.now();
      if (now - queued.enqueuedAt > queued.maxAgeMs) {
        await this.giveUp(queued, queued.attempts, `expired: not delivered within its age limit of ${queued.maxAgeMs / 1000} s (max_event_age_s)${queued.lastError ? `; last error: ${queued.lastError}` : ""}`);
        log(`[triggers] ${label} dead-lettered: older than its age limit`);
        return;
      }
      // Not known here: perhaps deployed by another host a moment ago (a shared store), so ask the store before dropping the event.
      const active = deployments.get(queued.script) ?? (await deployments.current(queued.script));
      if (!active) {
        // Deleting a script deletes its events; this one was claimed just before.
        if (!this.closed) await queue.complete(queued.id);
        log(`[triggers] ${label} dropped: the script no longer exists`);
        return;
      }
      const result = await invoke(executor, active.key, queued.event, {
        failOnServerError: true,
        ...(queued.event.kind === "storage" ? { chain: queued.event.depth } : {}),
        ...(this.options.observer ? { observer: this.options.observer, memoryMb: active.config.limits.memory_mb } : {}),
      });
      // Closing: the result is not recorded; the claim stays and the next start runs the event again.
      if (this.closed) return;
      const where = `${queued.script}@v${result.version} ${describeEvent(queued.event)} #${queued.id}`;
      if (result.ok) {
        await queue.complete(queued.id);
        log(`[triggers] ${where} ok ${result.cold ? "cold" : "warm"} ${result.durationMs}ms${result.cpuMs === null ? "" : ` (cpu ${result.cpuMs.toFixed(2)}ms)`}`);
        this.options.onSettled(queued);
        return;
      }
      const attempts = queued.attempts + 1;
      const reason = `${result.error?.code ?? "ATOLL_INTERNAL"}: ${result.error?.message ?? "failed"}`;
      const of = `attempt ${attempts} of ${queued.maxRetries + 1}`;
      if (result.noRetry) {
        await this.giveUp(queued, attempts, `${reason} (noRetry() was called)`);
        log(`[triggers] ${where} failed (${of}), dead-lettered: noRetry() was called: ${reason}`);
        return;
      }
      if (attempts > queued.maxRetries) {
        await this.giveUp(queued, attempts, reason);
        log(`[triggers] ${where} failed (${of}), dead-lettered after ${attempts} attempt(s): ${reason}`);
        return;
      }
      const delay = Math.min(settings.retryMaxDelayMs, settings.retryBaseDelayMs * 2 ** (attempts - 1));
      const runAt = Date.now() + delay;
      if (runAt - queued.enqueuedAt > queued.maxAgeMs) {
        await this.giveUp(queued, attempts, `${reason}; its next retry would pass its age limit of ${queued.maxAgeMs / 1000} s (max_event_age_s)`);
        log(`[triggers] ${where} failed (${of}), dead-lettered: the next retry would pass its age limit: ${reason}`);
        return;
      }
      await queue.retry(queued.id, runAt, reason);
      log(`[triggers] ${where} failed (${of}), retry in ${delay} ms: ${reason}`);
    } catch (error) {
      // The store failed: the claim stays; the event runs again after a restart (or once its lease ends).
      log(`[triggers] ${label} could not be settled: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }

  private async giveUp(queued: QueuedEvent, attempts: number, reason: string): Promise<void> {
    if (this.closed) return;
    await this.options.queue.deadLetter(queued.id, attempts, reason, Date.now());
    this.options.onSettled(queued);
  }
}

/** How an event reads in a log line: `scheduled "0 3 * * *" at …`, `storage put uploads/a.png`, `http POST /x`. */
export function describeEvent(event: QueuedInvocation): string {
  switch (event.kind) {
    case "scheduled":
      return `scheduled ${JSON.stringify(event.cron)} at ${new Date(event.scheduledTime).toISOString()}`;
    case "storage":
      return `storage ${event.action} ${event.bucket}/${event.key}${event.depth > 1 ? ` (chain depth ${event.depth})` : ""}`;
    case "http":
      return `http ${event.method} ${event.path}`;
  }
}
