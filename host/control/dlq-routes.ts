// Control API routes for a script's queued and dead-lettered events: list the
// events waiting or running, list the dead letters, replay them (back into the
// queue, attempts reset) or purge them. Mounted under /v1/scripts by ./app.ts.
//
//   GET  /v1/scripts/:name/queue?limit=                 → { name, events }
//   GET  /v1/scripts/:name/dlq?limit=&before=           → { name, dead_letters, next_before }
//   POST /v1/scripts/:name/dlq/replay   { ids?: [...] } → { name, replayed: [ids] }
//   POST /v1/scripts/:name/dlq/purge    { ids?: [...] } → { name, purged: n }
import { Hono } from "hono";
import { BadRequestError, NotFoundError } from "../errors.js";
import type { Deployments } from "../front/deployments.js";
import type { DeadLetter, QueuedEvent, QueueStore } from "../store/queue.js";
import type { Triggers } from "../triggers/index.js";
import { scriptName, versionNumber } from "./params.js";

export interface DlqRoutesOptions {
  queue: QueueStore;
  deployments: Deployments;
  triggers: Triggers;
  log(line: string): void;
}

const DEFAULT_PAGE = 20;
const MAX_PAGE = 1000;
const MAX_IDS = 1000;

export function dlqRoutes({ queue, deployments, triggers, log }: DlqRoutesOptions): Hono {
  const app = new Hono();

  const existing = (raw: string | undefined): string => {
    const name = scriptName(raw ?? "");
    if (!deployments.get(name)) throw new NotFoundError(`script "${name}"`);
    return name;
  };
  const limitOf = (value: string | undefined): number => {
    const limit = value === undefined ? DEFAULT_PAGE : versionNumber(value, "`limit`");
    if (limit > MAX_PAGE) throw new BadRequestError(`\`limit\` must be at most ${MAX_PAGE}, got ${limit}`);
    return limit;
  };

  app.get("/:name/queue", async (c) => {
    const name = existing(c.req.param("name"));
    const events = await queue.listPending(name, limitOf(c.req.query("limit")));
    return c.json({ name, events: events.map(queuedJson) });
  });

  app.get("/:name/dlq", async (c) => {
    const name = existing(c.req.param("name"));
    const limit = limitOf(c.req.query("limit"));
    const beforeParam = c.req.query("before");
    const before = beforeParam === undefined ? undefined : versionNumber(beforeParam, "`before`");
    const page = await queue.listDeadLetters(name, { limit: limit + 1, ...(before !== undefined ? { before } : {}) });
    const letters = page.slice(0, limit);
    return c.json({ name, dead_letters: letters.map(deadLetterJson), next_before: page.length > limit ? letters[letters.length - 1]!.id : null });
  });

  app.post("/:name/dlq/replay", async (c) => {
    const name = existing(c.req.param("name"));
    const replayed = await replayDeadLetters({ queue, triggers, log }, name, idsOf(await c.req.text()));
    return c.json({ name, replayed });
  });

  app.post("/:name/dlq/purge", async (c) => {
    const name = existing(c.req.param("name"));
    const purged = await purgeDeadLetters({ queue, log }, name, idsOf(await c.req.text()));
    return c.json({ name, purged });
  });

  return app;
}

/** Dead letters (all of the script's, or `ids`) back in the queue, due now, attempts reset; the dispatcher is woken. Returns their ids. */
export async function replayDeadLetters({ queue, triggers, log }: Pick<DlqRoutesOptions, "queue" | "triggers" | "log">, name: string, ids: readonly number[] | null): Promise<number[]> {
  const replayed = await queue.replayDeadLetters(name, ids, Date.now());
  triggers.dispatcher.wake();
  log(`[triggers] ${name}: replayed ${replayed.length} dead-lettered event(s)${replayed.length > 0 ? ` (#${replayed.join(", #")})` : ""}`);
  return replayed;
}

/** Deletes dead letters (all of the script's, or `ids`); returns how many went. */
export async function purgeDeadLetters({ queue, log }: Pick<DlqRoutesOptions, "queue" | "log">, name: string, ids: readonly number[] | null): Promise<number> {
  const purged = await queue.purgeDeadLetters(name, ids);
  log(`[triggers] ${name}: purged ${purged} dead-lettered event(s)`);
  return purged;
}

/** `{ ids: [1, 2] }` → those ids; an empty body or no `ids` → null (all of them). */
function idsOf(text: string): number[] | null {
  if (text.trim() === "") return null;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequestError('the body must be empty (every dead letter) or JSON: { "ids": [1, 2] }');
  }
  const ids = (body as { ids?: unknown } | null)?.ids;
  if (ids === undefined || ids === null) return null;
  if (!Array.isArray(ids) || ids.length > MAX_IDS || !ids.every((id) => Number.isSafeInteger(id) && id > 0)) {
    throw new BadRequestError(`"ids" must be an array of at most ${MAX_IDS} event ids (positive integers), as \`atoll dlq list\` shows them`);
  }
  return ids as number[];
}

function queuedJson(event: QueuedEvent): Record<string, unknown> {
  return {
    id: event.id,
    kind: event.event.kind,
    event: event.event,
    schedule: event.schedule,
    attempts: event.attempts,
    max_retries: event.maxRetries,
    enqueued_at: new Date(event.enqueuedAt).toISOString(),
    run_at: new Date(event.runAt).toISOString(),
    last_error: event.lastError,
  };
}

function deadLetterJson(letter: DeadLetter): Record<string, unknown> {
  return {
    id: letter.id,
    kind: letter.event.kind,
    event: letter.event,
    attempts: letter.attempts,
    enqueued_at: new Date(letter.enqueuedAt).toISOString(),
    failed_at: new Date(letter.failedAt).toISOString(),
    error: letter.error,
  };
}
