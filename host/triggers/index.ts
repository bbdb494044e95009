// Triggers beyond HTTP: cron schedules (./cron-scheduler.ts), bucket events
// (./storage-triggers.ts) and async invocations all become events in the
// store's durable queue, which ./event-dispatcher.ts delivers at least once,
// with retries and a dead-letter list. Direct invocations run at once
// (./invoke.ts). This is the face the host wires up.
import type { Observer } from "../observe/observer.js";
import { triggersOf } from "../config/script-config.js";
import type { Executor } from "../executor/executor.js";
import type { Deployments } from "../front/deployments.js";
import { NotFoundError } from "../errors.js";
import type { ObjectStore } from "../store/objects.js";
import type { QueuedEvent, QueuedInvocation, QueueStore } from "../store/queue.js";
import { CronScheduler } from "./cron-scheduler.js";
import { EventDispatcher, type DispatcherSettings } from "./event-dispatcher.js";
import { StorageTriggers } from "./storage-triggers.js";

export interface TriggerSettings extends DispatcherSettings {}

export interface TriggersOptions {
  queue: QueueStore;
  deployments: Deployments;
  executor: Executor;
  settings: TriggerSettings;
  log(line: string): void;
  /** The buckets, once the store has them: their changes fire storage triggers. */
  objects?: Pick<ObjectStore, "onChange">;
  /** Gets a record of every event's invocation. */
  observer?: Observer;
}

export class Triggers {
  readonly dispatcher: EventDispatcher;
  readonly cron: CronScheduler;
  readonly storage: StorageTriggers;

  constructor(private readonly options: TriggersOptions) {
    const { queue, deployments, log } = options;
    this.dispatcher = new EventDispatcher({
      queue,
      deployments,
      executor: options.executor,
      settings: options.settings,
      log,
      ...(options.observer ? { observer: options.observer } : {}),
      onSettled: (event) => {
        if (event.schedule !== null) this.cron.settled(event.script, event.schedule);
      },
    });
    const enqueue = (events: Parameters<EventDispatcher["enqueue"]>[0], options?: { now?: boolean }) => this.dispatcher.enqueue(events, options);
    this.cron = new CronScheduler({ queue, configOf: (script) => deployments.get(script)?.config, enqueue, log });
    this.storage = new StorageTriggers({
      scripts: () => deployments.list().map((active) => ({ name: active.key.script, config: active.config })),
      enqueue,
      log,
    });
  }

  /** Delivers what the queue holds, starts every active schedule (catching up missed ticks) and listens to the buckets. */
  async start(): Promise<void> {
    const { deployments, objects } = this.options;
    await this.dispatcher.start();
    this.storage.rebuild();
    if (objects) this.storage.subscribe(objects);
    deployments.onActiveChange((script) => this.scriptChanged(script));
    await this.cron.start(deployments.list().map((active) => active.key.script));
  }

  /** A script's active version changed (or it was deleted): follow its schedules and buckets. */
  async scriptChanged(script: string): Promise<void> {
    this.storage.update(script, this.options.deployments.get(script)?.config);
    await this.cron.sync(script);
  }

  /**
   * Queues one invocation of a script's active version (`invoke --async`),
   * with the retries and age limit of its config; resolves once durable.
   */
  async enqueue(script: string, invocation: QueuedInvocation): Promise<QueuedEvent> {
    const active = this.options.deployments.get(script);
    if (!active) throw new NotFoundError(`script "${script}"`);
    const { retries, max_event_age_s } = triggersOf(active.config);
    const [queued] = await this.dispatcher.enqueue([{ script, event: invocation, maxRetries: retries, maxAgeMs: max_event_age_s * 1000 }]);
    return queued!;
  }

  /**
   * Stops the schedules, then lets the runs in progress settle (for a while).
   * Bucket changes are still queued (to run at the next start) until
   * `detach`, once nothing can write a bucket any more.
   */
  async close(): Promise<void> {
    this.cron.close();
    await this.dispatcher.close();
  }

  /** Stops listening to the buckets (the executor and the servers are stopped). */
  detach(): void {
    this.storage.close();
  }
}
