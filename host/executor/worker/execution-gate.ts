// At most N isolates of this worker execute at once (N = its share of the
// cores). isolate.cpuTime counts wall time while an isolate's thread waits for
// a core, so running more isolates than cores would charge functions for each
// other's CPU; queueing here keeps `cpu_ms` honest under load. While a call
// executes, its version is written to the execution marker, so that the front
// can name the function if the process dies in the middle.
import type { ExecutionMarkerWriter } from "../execution-marker.js";

export class ExecutionGate {
  private readonly free: number[] = [];
  private readonly waiting: (() => void)[] = [];

  constructor(
    slots: number,
    private readonly marker: ExecutionMarkerWriter | null = null,
  ) {
    for (let slot = slots - 1; slot >= 0; slot--) this.free.push(slot);
  }

  /** No gate and no marker: for isolates outside a worker (tests, the runtime warm-up). */
  static unlimited(): ExecutionGate {
    return new ExecutionGate(1024);
  }

  /** Runs `call` once a slot is free; the slot is held until its promise settles. */
  run<T>(label: string, call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        const slot = this.free.pop()!;
        this.marker?.enter(slot, label);
        let running: Promise<T>;
        try {
          running = call();
        } catch (error) {
          running = Promise.reject(error);
        }
        running.then(resolve, reject).finally(() => {
          this.marker?.exit(slot);
          this.free.push(slot);
          this.waiting.shift()?.();
        });
      };
      if (this.free.length > 0) start();
      else this.waiting.push(start);
    });
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }
}
