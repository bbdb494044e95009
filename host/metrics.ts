// Prometheus metrics of the host (the front process), served at GET /metrics
// on the control port. Every invocation's outcome, every limit that ended
// one, worker deaths and quarantines, binding calls: the same facts as the
// log lines, in a form a dashboard can count.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class HostMetrics {
  readonly registry = new Registry();

  /** HTTP invocations by script, status and whether an isolate was started for them. */
  readonly invocations = new Counter({
    name: "atoll_invocations_total",
    help: "Invocations answered by the data plane, by script, HTTP status and start (cold, warm, none when no function ran)",
    labelNames: ["script", "status", "start"] as const,
    registers: [this.registry],
  });

  /** Invocations a limit ended. */
  readonly terminations = new Counter({
    name: "atoll_terminations_total",
    help: "Invocations ended by a limit (cpu_ms, wall_ms, memory_mb, request/response body, fetch loop), by script and limit",
    labelNames: ["script", "limit"] as const,
    registers: [this.registry],
  });

  /** Time to the response head, seconds. */
  readonly headSeconds = new Histogram({
    name: "atoll_invocation_head_seconds",
    help: "Time from the request to the response head, by script and start",
    labelNames: ["script", "start"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "atoll_front_" });
  }

  /** The exposition text for GET /metrics. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
