// Prometheus metrics of the host (the front process), served at GET /metrics
// on the control port. Every invocation's outcome, every limit that ended
// one, worker deaths and quarantines, binding calls: the same facts as the
// log lines, in a form a dashboard can count.
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

/** Upper bounds of the head-time histogram's buckets, seconds. */
const HEAD_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30];

/** A label value as the exposition format writes it. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export class HostMetrics {
  readonly registry = new Registry();

  /** Invocations a limit ended. */
  readonly terminations = new Counter({
    name: "atoll_terminations_total",
    help: "Invocations ended by a limit (cpu_ms, wall_ms, memory_mb, request/response body, fetch loop), by script and limit",
    labelNames: ["script", "limit"] as const,
    registers: [this.registry],
  });

  readonly workerExits = new Counter({
    name: "atoll_worker_exits_total",
    help: "Worker processes that exited, by kind (crash: died and was replaced; drained: replaced over its memory ceiling)",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  readonly quarantined = new Gauge({
    name: "atoll_quarantined_versions",
    help: "Script versions quarantined for killing their worker process repeatedly",
    registers: [this.registry],
  });

  readonly bindingCalls = new Counter({
    name: "atoll_binding_calls_total",
    help: "Calls functions made on their bindings, by kind (kv, bucket), method and outcome (ok, error)",
    labelNames: ["kind", "method", "outcome"] as const,
    registers: [this.registry],
  });

  /**
   * HTTP invocations by script, status and start (cold, warm, none when no
   * function ran), and the time to their response head. Counted here, in
   * plain numbers, and written out at scrape time: prom-client hashes the
   * label values on every increment, which cost 6 µs a request, a quarter of
   * the front's budget for one.
   */
  private readonly invocationCounts = new Map<string, { script: string; status: number; start: string; count: number }>();
  private readonly headTimes = new Map<string, { script: string; start: string; buckets: number[]; sum: number; count: number }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "atoll_front_" });
  }

  /** Tails attached and invocation records lost, read from `observer` at scrape time. */
  observe(observer: { readonly tailCount: number; readonly droppedRecords: number }): void {
    new Gauge({
      name: "atoll_tail_clients",
      help: "Live tails attached (atoll tail, GET /v1/scripts/:name/logs)",
      registers: [this.registry],
      collect() {
        this.set(observer.tailCount);
      },
    });
    new Gauge({
      name: "atoll_invocation_records_dropped",
      help: "Invocation records lost since the host started because the invocation store could not take them",
      registers: [this.registry],
      collect() {
        this.set(observer.droppedRecords);
      },
    });
  }

  /** One HTTP invocation answered with `status`. */
  countInvocation(script: string, status: number, start: "cold" | "warm" | "none"): void {
    const id = `${script}\0${status}\0${start}`;
    const entry = this.invocationCounts.get(id);
    if (entry) entry.count++;
    else this.invocationCounts.set(id, { script, status, start, count: 1 });
  }

  /** Time to the response head of one HTTP invocation, seconds. */
  observeHead(script: string, start: "cold" | "warm", seconds: number): void {
    const id = `${script}\0${start}`;
    let entry = this.headTimes.get(id);
    if (!entry) {
      entry = { script, start, buckets: HEAD_BUCKETS_S.map(() => 0), sum: 0, count: 0 };
      this.headTimes.set(id, entry);
    }
    entry.sum += seconds;
    entry.count++;
    // Cumulative counts are summed at scrape time; here the first bucket that holds it.
    const bucket = HEAD_BUCKETS_S.findIndex((le) => seconds <= le);
    if (bucket !== -1) entry.buckets[bucket]!++;
  }

  /** The exposition lines of the two families counted here. */
  private invocationText(): string {
    const lines = [
      "# HELP atoll_invocations_total Invocations answered by the data plane, by script, HTTP status and start (cold, warm, none when no function ran)",
      "# TYPE atoll_invocations_total counter",
    ];
    for (const { script, status, start, count } of this.invocationCounts.values()) {
      lines.push(`atoll_invocations_total{script="${escapeLabel(script)}",status="${status}",start="${start}"} ${count}`);
    }
    lines.push("# HELP atoll_invocation_head_seconds Time from the request to the response head, by script and start", "# TYPE atoll_invocation_head_seconds histogram");
    for (const { script, start, buckets, sum, count } of this.headTimes.values()) {
      const labels = `script="${escapeLabel(script)}",start="${start}"`;
      let cumulative = 0;
      HEAD_BUCKETS_S.forEach((le, index) => {
        cumulative += buckets[index]!;
        lines.push(`atoll_invocation_head_seconds_bucket{le="${le}",${labels}} ${cumulative}`);
      });
      lines.push(`atoll_invocation_head_seconds_bucket{le="+Inf",${labels}} ${count}`, `atoll_invocation_head_seconds_sum{${labels}} ${sum}`, `atoll_invocation_head_seconds_count{${labels}} ${count}`);
    }
    return `${lines.join("\n")}\n`;
  }

  /** The exposition text for GET /metrics. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: this.invocationText() + (await this.registry.metrics()) };
  }
}
