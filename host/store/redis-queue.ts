// The durable event queue on the shared Redis, for several hosts at once.
// Each event is a hash; unclaimed events wait in a sorted set by due time,
// claimed ones in another by the end of their lease. Every step that moves an
// event is one Lua script, so two hosts never claim the same event, and every
// settling step is fenced by the claim's token: a host whose lease ran out
// (it stalled, and another host took the event over) cannot complete, retry or
// dead-letter an event that is no longer its own.
//
// Claims carry the host's id (kept in its data directory), so a host that
// restarts releases the claims it left, and the others take over claims whose
// lease ended (a host that died: the lease is short, and renewed while an event
// runs, see EventDispatcher). A cron tick is queued under a compare-and-set on
// the schedule's last tick, so each tick is queued once per cluster, whichever
// hosts' timers fire.
import type { DeadLetter, NewQueuedEvent, QueuedEvent, QueuedInvocation, QueueStore } from "./queue.js";
import { LuaScript, redisKey, throwFirstError, type RedisConnection } from "./redis-connection.js";

const WHAT = "the shared store's event queue (Redis)";
const SEQUENCE = redisKey("queue", "sequence");
const DUE = redisKey("queue", "due");
const CLAIMED = redisKey("queue", "claimed");
const EVENT_PREFIX = `${redisKey("queue", "event")}:`;
const DEAD_PREFIX = `${redisKey("dead-letter", "entry")}:`;
/** Most ids one replay or purge names (as the SQLite store). */
const MAX_IDS = 1000;

/** Removes an event and its index entries (fenced by the claim token unless it is empty). */
const REMOVE_EVENT_LUA = `
local function remove(ek, id)
  local sk = redis.call('HGET', ek, 'sk')
  local ssk = redis.call('HGET', ek, 'ssk')
  if sk then redis.call('ZREM', sk, id) end
  if ssk then redis.call('SREM', ssk, id) end
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('DEL', ek)
end
local function owned(ek, token)
  return token == '' or redis.call('HGET', ek, 'claim') == token
end
`;

const ENQUEUE = new LuaScript(
  `-- KEYS: sequence, due, script index, cron ticks, schedule set
   -- ARGV: event prefix, script, payload, schedule, tick, maxRetries, maxAgeMs, now, runAt
   if ARGV[4] ~= '' and ARGV[5] ~= '' then
     local last = redis.call('HGET', KEYS[4], ARGV[4])
     if last and tonumber(last) >= tonumber(ARGV[5]) then return 0 end
     redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
   end
   local id = redis.call('INCR', KEYS[1])
   local ek = ARGV[1] .. id
   redis.call('HSET', ek, 'script', ARGV[2], 'p', ARGV[3], 'attempts', 0, 'maxRetries', ARGV[6], 'maxAgeMs', ARGV[7], 'enqueuedAt', ARGV[8], 'runAt', ARGV[9], 'sk', KEYS[3])
   if ARGV[4] ~= '' then
     redis.call('HSET', ek, 'sched', ARGV[4], 'ssk', KEYS[5])
     redis.call('SADD', KEYS[5], id)
   end
   redis.call('ZADD', KEYS[2], ARGV[9], id)
   redis.call('ZADD', KEYS[3], id, id)
   return id`,
  5,
);

const CLAIM = new LuaScript(
  `-- KEYS: due, claimed. ARGV: now, limit, lease until, token prefix, event prefix
   local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
   local wanted = tonumber(ARGV[2]) - #ids
   if wanted > 0 then
     for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, wanted)) do table.insert(ids, id) end
   end
   local out = {}
   for _, id in ipairs(ids) do
     local ek = ARGV[5] .. id
     redis.call('ZREM', KEYS[1], id)
     redis.call('ZREM', KEYS[2], id)
     if redis.call('EXISTS', ek) == 1 then
       local token = ARGV[4] .. redis.call('HINCRBY', ek, 'claims', 1)
       redis.call('HSET', ek, 'claim', token)
       redis.call('ZADD', KEYS[2], ARGV[3], id)
       table.insert(out, id)
       table.insert(out, token)
       table.insert(out, redis.call('HGETALL', ek))
     end
   end
   return out`,
  2,
);

const COMPLETE = new LuaScript(
  `${REMOVE_EVENT_LUA}
   -- KEYS: due, claimed. ARGV: event key, id, token
   if not owned(ARGV[1], ARGV[3]) then return 0 end
   remove(ARGV[1], ARGV[2])
   return 1`,
  2,
);

const RETRY = new LuaScript(
  `${REMOVE_EVENT_LUA}
   -- KEYS: due, claimed. ARGV: event key, id, token, run at, error
   if redis.call('EXISTS', ARGV[1]) == 0 or not owned(ARGV[1], ARGV[3]) then return 0 end
   redis.call('HINCRBY', ARGV[1], 'attempts', 1)
   redis.call('HSET', ARGV[1], 'runAt', ARGV[4], 'lastError', ARGV[5])
   redis.call('HDEL', ARGV[1], 'claim')
   redis.call('ZREM', KEYS[2], ARGV[2])
   redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
   return 1`,
  2,
);

const DEAD_LETTER = new LuaScript(
  `${REMOVE_EVENT_LUA}
   -- KEYS: due, claimed, dead-letter index. ARGV: event key, id, token, attempts, error, failed at, dead-letter key
   if redis.call('EXISTS', ARGV[1]) == 0 or not owned(ARGV[1], ARGV[3]) then return 0 end
   local e = redis.call('HMGET', ARGV[1], 'script', 'p', 'maxRetries', 'maxAgeMs', 'enqueuedAt')
   redis.call('HSET', ARGV[7], 'script', e[1], 'p', e[2], 'maxRetries', e[3], 'maxAgeMs', e[4], 'enqueuedAt', e[5], 'attempts', ARGV[4], 'failedAt', ARGV[6], 'error', ARGV[5])
   redis.call('ZADD', KEYS[3], ARGV[2], ARGV[2])
   remove(ARGV[1], ARGV[2])
   return 1`,
  3,
);

const RELEASE_OWN = new LuaScript(
  `-- KEYS: due, claimed. ARGV: event prefix, token prefix of this host
   local released = 0
   for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
     local ek = ARGV[1] .. id
     local claim = redis.call('HGET', ek, 'claim')
     if claim and string.sub(claim, 1, #ARGV[2]) == ARGV[2] then
       redis.call('ZREM', KEYS[2], id)
       redis.call('HDEL', ek, 'claim')
       redis.call('ZADD', KEYS[1], redis.call('HGET', ek, 'runAt'), id)
       released = released + 1
     end
   end
   return released`,
  2,
);

const RENEW = new LuaScript(
  `-- KEYS: claimed. ARGV: event key, id, token, until
   if redis.call('HGET', ARGV[1], 'claim') ~= ARGV[3] then return 0 end
   redis.call('ZADD', KEYS[1], 'XX', ARGV[4], ARGV[2])
   return 1`,
  1,
);

const DROP_SCHEDULE = new LuaScript(
  `${REMOVE_EVENT_LUA}
   -- KEYS: due, claimed, schedule set. ARGV: event prefix
   local dropped = 0
   for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
     local ek = ARGV[1] .. id
     if redis.call('EXISTS', ek) == 0 then
       redis.call('SREM', KEYS[3], id)
     elseif redis.call('ZSCORE', KEYS[1], id) then
       remove(ek, id)
       dropped = dropped + 1
     end
   end
   return dropped`,
  3,
);

const REPLAY = new LuaScript(
  `-- KEYS: due, dead-letter index, script index. ARGV: dead-letter key, event key, id, now
   if not redis.call('ZSCORE', KEYS[2], ARGV[3]) then return 0 end
   local d = redis.call('HMGET', ARGV[1], 'script', 'p', 'maxRetries', 'maxAgeMs')
   redis.call('HSET', ARGV[2], 'script', d[1], 'p', d[2], 'attempts', 0, 'maxRetries', d[3], 'maxAgeMs', d[4], 'enqueuedAt', ARGV[4], 'runAt', ARGV[4], 'sk', KEYS[3])
   redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
   redis.call('ZADD', KEYS[3], ARGV[3], ARGV[3])
   redis.call('ZREM', KEYS[2], ARGV[3])
   redis.call('DEL', ARGV[1])
   return 1`,
  3,
);

export class RedisQueue implements QueueStore {
  /** The token of each claim this host holds, by event id: settling steps are fenced by it. */
  private readonly claims = new Map<number, string>();
  private claimSequence = 0;

  /** `hostId`: this host's id, the same across its restarts (its data directory keeps it). */
  constructor(
    private readonly redis: RedisConnection,
    private readonly hostId: string,
  ) {}

  async enqueue(events: NewQueuedEvent[]): Promise<QueuedEvent[]> {
    const queued: QueuedEvent[] = [];
    const now = Date.now();
    for (const event of events) {
      const schedule = event.schedule ?? "";
      const tick = event.schedule !== undefined && event.event.kind === "scheduled" ? String(event.event.scheduledTime) : "";
      const runAt = event.runAt ?? now;
      const id = Number(
        await ENQUEUE.run(
          this.redis,
          [SEQUENCE, DUE, scriptIndex(event.script), cronTicksKey(event.script), scheduleSet(event.script, schedule)],
          [EVENT_PREFIX, event.script, JSON.stringify(event.event), schedule, tick, event.maxRetries, event.maxAgeMs, now, runAt],
        ),
      );
      // 0: another host already queued this cron tick.
      if (id === 0) continue;
      queued.push({ id, script: event.script, event: event.event, schedule: event.schedule ?? null, attempts: 0, maxRetries: event.maxRetries, maxAgeMs: event.maxAgeMs, enqueuedAt: now, runAt, lastError: null });
    }
    if (queued.length > 0) await this.redis.publish({ kind: "queue" }).catch(() => {});
    return queued;
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<QueuedEvent[]> {
    // The token prefix is unique per claim call, so that a token never repeats even when the counter in the event restarts.
    const prefix = `${this.hostId}:${++this.claimSequence}:`;
    const reply = (await CLAIM.run(this.redis, [DUE, CLAIMED], [now, limit, now + leaseMs, prefix, EVENT_PREFIX])) as (string | string[])[];
    const claimed: QueuedEvent[] = [];
    for (let index = 0; index < reply.length; index += 3) {
      const id = Number(reply[index]);
      this.claims.set(id, reply[index + 1] as string);
      claimed.push(toQueuedEvent(id, pairs(reply[index + 2] as string[])));
    }
    return claimed;
  }

  async complete(id: number): Promise<void> {
    await COMPLETE.run(this.redis, [DUE, CLAIMED], [eventKey(id), id, this.claims.get(id) ?? ""]);
    this.claims.delete(id);
  }

  async retry(id: number, runAt: number, error: string): Promise<void> {
    await RETRY.run(this.redis, [DUE, CLAIMED], [eventKey(id), id, this.claims.get(id) ?? "", runAt, error]);
    this.claims.delete(id);
  }

  async deadLetter(id: number, attempts: number, error: string, now: number): Promise<void> {
    const script = await this.redis.call(WHAT, () => this.redis.client.hget(eventKey(id), "script"));
    if (script === null) return;
    await DEAD_LETTER.run(this.redis, [DUE, CLAIMED, deadLetterIndex(script)], [eventKey(id), id, this.claims.get(id) ?? "", attempts, error, now, deadLetterKey(id)]);
    this.claims.delete(id);
  }

  async releaseClaims(): Promise<number> {
    return Number(await RELEASE_OWN.run(this.redis, [DUE, CLAIMED], [EVENT_PREFIX, `${this.hostId}:`]));
  }

  /** Extends this host's claims on events still running (EventDispatcher calls it well before the lease ends). */
  async renewClaims(ids: readonly number[], until: number): Promise<void> {
    for (const id of ids) {
      const token = this.claims.get(id);
      if (token !== undefined) await RENEW.run(this.redis, [CLAIMED], [eventKey(id), id, token, until]);
    }
  }

  async nextDueAt(): Promise<number | undefined> {
    const [due, claimed] = await this.redis.call(WHAT, () => Promise.all([this.redis.client.zrange(DUE, 0, 0, "WITHSCORES"), this.redis.client.zrange(CLAIMED, 0, 0, "WITHSCORES")]));
    const times = [due[1], claimed[1]].filter((at): at is string => at !== undefined).map(Number);
    return times.length === 0 ? undefined : Math.min(...times);
  }

  async hasScheduleEvent(script: string, schedule: string): Promise<boolean> {
    return (await this.redis.call(WHAT, () => this.redis.client.scard(scheduleSet(script, schedule)))) > 0;
  }

  async dropScheduleEvents(script: string, schedule: string): Promise<number> {
    return Number(await DROP_SCHEDULE.run(this.redis, [DUE, CLAIMED, scheduleSet(script, schedule)], [EVENT_PREFIX]));
  }

  async listPending(script: string, limit: number): Promise<QueuedEvent[]> {
    const ids = await this.redis.call(WHAT, () => this.redis.client.zrange(scriptIndex(script), 0, limit - 1));
    return (await this.events(ids.map(Number), eventKey)).map(([id, fields]) => toQueuedEvent(id, fields));
  }

  async cronTicks(script: string): Promise<Map<string, number>> {
    const ticks = await this.redis.call(WHAT, () => this.redis.client.hgetall(cronTicksKey(script)));
    return new Map(Object.entries(ticks).map(([schedule, tick]) => [schedule, Number(tick)]));
  }

  async setCronTick(script: string, schedule: string, tick: number): Promise<void> {
    await this.redis.call(WHAT, () => this.redis.client.hset(cronTicksKey(script), schedule, tick));
  }

  async forgetCronTicks(script: string, keep: readonly string[]): Promise<void> {
    const kept = new Set(keep);
    const stale = (await this.redis.call(WHAT, () => this.redis.client.hkeys(cronTicksKey(script)))).filter((schedule) => !kept.has(schedule));
    if (stale.length > 0) await this.redis.call(WHAT, () => this.redis.client.hdel(cronTicksKey(script), ...stale));
  }

  async listDeadLetters(script: string, page: { limit: number; before?: number }): Promise<DeadLetter[]> {
    const max = page.before === undefined ? "+inf" : `(${page.before}`;
    const ids = await this.redis.call(WHAT, () => this.redis.client.zrevrangebyscore(deadLetterIndex(script), max, "-inf", "LIMIT", 0, page.limit));
    return (await this.events(ids.map(Number), deadLetterKey)).map(([id, fields]) => ({
      id,
      script: fields.script!,
      event: JSON.parse(fields.p!) as QueuedInvocation,
      attempts: Number(fields.attempts),
      enqueuedAt: Number(fields.enqueuedAt),
      failedAt: Number(fields.failedAt),
      error: fields.error ?? "",
    }));
  }

  async replayDeadLetters(script: string, ids: readonly number[] | null, now: number): Promise<number[]> {
    const chosen = ids === null ? (await this.redis.call(WHAT, () => this.redis.client.zrange(deadLetterIndex(script), 0, -1))).map(Number) : ids.slice(0, MAX_IDS);
    const replayed: number[] = [];
    for (const id of chosen) {
      if (Number(await REPLAY.run(this.redis, [DUE, deadLetterIndex(script), scriptIndex(script)], [deadLetterKey(id), eventKey(id), id, now])) === 1) replayed.push(id);
    }
    if (replayed.length > 0) await this.redis.publish({ kind: "queue" }).catch(() => {});
    return replayed;
  }

  async purgeDeadLetters(script: string, ids: readonly number[] | null): Promise<number> {
    const chosen = ids === null ? (await this.redis.call(WHAT, () => this.redis.client.zrange(deadLetterIndex(script), 0, -1))).map(Number) : ids.slice(0, MAX_IDS);
    let purged = 0;
    for (const id of chosen) {
      const removed = await this.redis.call(WHAT, async () => {
        const replies = await this.redis.client.multi().zrem(deadLetterIndex(script), id).del(deadLetterKey(id)).exec();
        throwFirstError(replies);
        return Number(replies![0]![1]);
      });
      purged += removed;
    }
    return purged;
  }

  /** Forgets everything queued for a deleted script: its events, dead letters and schedules. */
  async forgetScript(script: string): Promise<void> {
    const ids = await this.redis.call(WHAT, () => this.redis.client.zrange(scriptIndex(script), 0, -1));
    for (const id of ids) await COMPLETE.run(this.redis, [DUE, CLAIMED], [eventKey(Number(id)), id, ""]);
    await this.purgeDeadLetters(script, null);
    await this.redis.call(WHAT, () => this.redis.client.del(cronTicksKey(script), scriptIndex(script), deadLetterIndex(script)));
  }

  private async events(ids: number[], keyOf: (id: number) => string): Promise<[number, Record<string, string>][]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.client.pipeline();
    for (const id of ids) pipeline.hgetall(keyOf(id));
    const replies = await this.redis.call(WHAT, () => pipeline.exec());
    const found: [number, Record<string, string>][] = [];
    ids.forEach((id, index) => {
      const [error, fields] = replies?.[index] ?? [null, null];
      if (error) throw error;
      if (fields && Object.keys(fields as object).length > 0) found.push([id, fields as Record<string, string>]);
    });
    return found;
  }
}

function toQueuedEvent(id: number, fields: Record<string, string>): QueuedEvent {
  return {
    id,
    script: fields.script!,
    event: JSON.parse(fields.p!) as QueuedInvocation,
    schedule: fields.sched ?? null,
    attempts: Number(fields.attempts ?? 0),
    maxRetries: Number(fields.maxRetries),
    maxAgeMs: Number(fields.maxAgeMs),
    enqueuedAt: Number(fields.enqueuedAt),
    runAt: Number(fields.runAt),
    lastError: fields.lastError ?? null,
  };
}

/** HGETALL's flat reply as an object. */
function pairs(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let index = 0; index + 1 < flat.length; index += 2) fields[flat[index]!] = flat[index + 1]!;
  return fields;
}

function eventKey(id: number): string {
  return `${EVENT_PREFIX}${id}`;
}

function deadLetterKey(id: number): string {
  return `${DEAD_PREFIX}${id}`;
}

function scriptIndex(script: string): string {
  return redisKey("queue", "script", script);
}

function scheduleSet(script: string, schedule: string): string {
  return redisKey("queue", "schedule", script, schedule);
}

function cronTicksKey(script: string): string {
  return redisKey("cron-ticks", script);
}

function deadLetterIndex(script: string): string {
  return redisKey("dead-letter", "script", script);
}
