// Prometheus metrics of the host (the front process), served at GET /metrics
// on the control port. Every invocation's outcome, every limit that ended
// one, worker deaths and quarantines, binding calls: the same facts as the
// log lines, in a form a dashboard can count. Per-script families label at
// most HOST_DEFAULTS.metricScripts scripts by name (ScriptLabels), the rest
// as `_other`: the series a host makes stay bounded however many it runs.
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { HOST_DEFAULTS } from "./host-defaults.js";
import { OUTCOMES, TRIGGERS, type InvocationRecord, type Outcome, type Trigger } from "./observe/records.js";

/** Upper bounds of the head-time histogram's buckets, seconds. */
const HEAD_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30];

/** A label value as the exposition format writes it. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** The label value of every script past the bound (script names have no `_`: no script can be called this). */
export const OTHER_SCRIPTS = "_other";

/**
 * The `script` label of a script's series. The first `max` names seen keep
 * their own for the life of the process (a counter's series never moves to
 * another label); every later one is counted under `_other`, so that 10,000
 * scripts make at most `max` + 1 series per family. Each name is remembered
 * with its label: a known one, kept or folded, costs one Map lookup.
 */
export class ScriptLabels {
  private readonly labels = new Map<string, string>();
  private kept = 0;

  constructor(readonly max: number) {}

  label(script: string): string {
    const known = this.labels.get(script);
    if (known !== undefined) return known;
    const label = this.kept < this.max ? script : OTHER_SCRIPTS;
    if (label === script) this.kept++;
    this.labels.set(script, label);
    return label;
  }

  /** Distinct scripts counted under `_other`. */
  get folded(): number {
    return this.labels.size - this.kept;
  }
}

/** One script label's totals over its invocation records (HostMetrics.countRecord). */
interface FunctionTotals {
  /** Invocations by trigger and outcome, every pair there from the start: counting allocates nothing. */
  invocations: Record<Trigger, Record<Outcome, number>>;
  cpuSeconds: number;
  gbSeconds: number;
  responseBytes: number;
  fetchBytesIn: number;
  fetchBytesOut: number;
  /** The last record's isolate memory; null until one measured it. */
  heapBytes: number | null;
}

function newTotals(): FunctionTotals {
  const invocations = {} as Record<Trigger, Record<Outcome, number>>;
  for (const trigger of TRIGGERS) {
    invocations[trigger] = {} as Record<Outcome, number>;
    for (const outcome of OUTCOMES) invocations[trigger][outcome] = 0;
  }
  return { invocations, cpuSeconds: 0, gbSeconds: 0, responseBytes: 0, fetchBytesIn: 0, fetchBytesOut: 0, heapBytes: null };
}

export interface HostMetricsOptions {
  /** Scripts that keep their own `script` label (HOST_DEFAULTS.metricScripts). */
  maxScripts?: number;
}

export class HostMetrics {
  readonly registry = new Registry();
  /** The `script` label of every per-script family. */
  readonly scripts: ScriptLabels;

  private readonly terminationCounts = new Counter({
    name: "atoll_terminations_total",
    help: "Invocations ended by a limit (cpu_ms, wall_ms, memory_mb, request/response body, fetch loop), by script and limit",
    labelNames: ["script", "limit"] as const,
    registers: [this.registry],
  });

  /** Invocations a limit ended; the script is labelled as every other family's. */
  readonly terminations = {
    inc: (labels: { script: string; limit: string }): void => this.terminationCounts.inc({ script: this.scripts.label(labels.script), limit: labels.limit }),
  };

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
  /** Every trigger's invocations by script label, from the records (countRecord); written out at scrape time as the two above. */
  private readonly functions = new Map<string, FunctionTotals>();

  constructor(options: HostMetricsOptions = {}) {
    this.scripts = new ScriptLabels(options.maxScripts ?? HOST_DEFAULTS.metricScripts);
    collectDefaultMetrics({ register: this.registry, prefix: "atoll_front_" });
    const scripts = this.scripts;
    new Gauge({
      name: "atoll_metric_scripts_folded",
      help: `Scripts counted under script="${OTHER_SCRIPTS}": the distinct scripts seen after the first ${scripts.max}, which keep their own label until the host restarts. Above 0, per-script dashboards miss these scripts; raise HOST_DEFAULTS.metricScripts if the series are affordable`,
      registers: [this.registry],
      collect() {
        this.set(scripts.folded);
      },
    });
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
  countInvocation(name: string, status: number, start: "cold" | "warm" | "none"): void {
    const script = this.scripts.label(name);
    const id = `${script}\0${status}\0${start}`;
    const entry = this.invocationCounts.get(id);
    if (entry) entry.count++;
    else this.invocationCounts.set(id, { script, status, start, count: 1 });
  }

  /** Time to the response head of one HTTP invocation, seconds. */
  observeHead(name: string, start: "cold" | "warm", seconds: number): void {
    const script = this.scripts.label(name);
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

  /** One invocation's record, any trigger (the observer's onRecord): a Map lookup or two and a few additions. */
  countRecord(record: InvocationRecord): void {
    const script = this.scripts.label(record.script);
    let totals = this.functions.get(script);
    if (!totals) this.functions.set(script, (totals = newTotals()));
    totals.invocations[record.trigger][record.outcome]++;
    if (record.cpuMs !== null) totals.cpuSeconds += record.cpuMs / 1000;
    // As the usage bills it (./observe/invocation-store.ts): wall seconds × memory_mb / 1024.
    if (record.memoryMb !== null) totals.gbSeconds += ((record.wallMs / 1000) * record.memoryMb) / 1024;
    if (record.bytesOut !== null) totals.responseBytes += record.bytesOut;
    if (record.fetchBytesIn !== null) totals.fetchBytesIn += record.fetchBytesIn;
    if (record.fetchBytesOut !== null) totals.fetchBytesOut += record.fetchBytesOut;
    if (record.heapMb !== null) totals.heapBytes = record.heapMb * 1048576;
  }

  /** The exposition lines of the per-script families countRecord counts. */
  private functionText(): string {
    const invocations = ["# HELP atoll_function_invocations_total Invocations of every trigger (http, cron, storage, invoke), by script, trigger and outcome", "# TYPE atoll_function_invocations_total counter"];
    const cpu = ["# HELP atoll_function_cpu_seconds_total CPU time functions were charged, by script", "# TYPE atoll_function_cpu_seconds_total counter"];
    const gb = ["# HELP atoll_function_gb_seconds_total Wall seconds times memory_mb / 1024, as the usage bills them, by script", "# TYPE atoll_function_gb_seconds_total counter"];
    const response = ["# HELP atoll_function_response_bytes_total Response bytes functions sent, by script", "# TYPE atoll_function_response_bytes_total counter"];
    const fetched = ["# HELP atoll_function_fetch_bytes_total Body bytes of functions' outbound fetches and service calls, by script and direction (out: sent, in: received)", "# TYPE atoll_function_fetch_bytes_total counter"];
    const heap = ["# HELP atoll_function_heap_bytes The isolate's memory in use at the end of the script's last measured invocation", "# TYPE atoll_function_heap_bytes gauge"];
    for (const [script, totals] of this.functions) {
      const label = `script="${escapeLabel(script)}"`;
      for (const trigger of TRIGGERS) {
        for (const outcome of OUTCOMES) {
          const count = totals.invocations[trigger][outcome];
          if (count > 0) invocations.push(`atoll_function_invocations_total{${label},trigger="${trigger}",outcome="${outcome}"} ${count}`);
        }
      }
      cpu.push(`atoll_function_cpu_seconds_total{${label}} ${totals.cpuSeconds}`);
      gb.push(`atoll_function_gb_seconds_total{${label}} ${totals.gbSeconds}`);
      response.push(`atoll_function_response_bytes_total{${label}} ${totals.responseBytes}`);
      fetched.push(`atoll_function_fetch_bytes_total{${label},direction="in"} ${totals.fetchBytesIn}`, `atoll_function_fetch_bytes_total{${label},direction="out"} ${totals.fetchBytesOut}`);
      if (totals.heapBytes !== null) heap.push(`atoll_function_heap_bytes{${label}} ${totals.heapBytes}`);
    }
    return `${[...invocations, ...cpu, ...gb, ...response, ...fetched, ...heap].join("\n")}\n`;
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
    return { contentType: this.registry.contentType, body: this.invocationText() + this.functionText() + (await this.registry.metrics()) };
  }
}
