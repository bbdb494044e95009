// At most N isolates of this worker execute at once (N = its share of the
// cores). isolate.cpuTime counts wall time while an isolate's thread waits for
// a core, so running more isolates than cores would charge functions for each
// other's CPU; queueing here keeps `cpu_ms` honest under load. A slot belongs
// to an isolate, not to one call: further calls into an isolate that holds a
// slot go straight through (isolated-vm queues them on its thread), so one
// busy isolate keeps its calls pipelined. While an isolate holds a slot, its
// version is written to the execution marker, so that the front can name the
// function if the process dies in the middle.
import type { ExecutionMarkerWriter } from "../execution-marker.js";

interface Holder {
  slot: number;
  calls: number;
}

export class ExecutionGate {
  private readonly free: number[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly holders = new Map<object, Holder>();

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

  /** Runs `call` for `owner` (an isolate) once it holds a slot; the slot is held until its last call settles. */
  run<T>(owner: object, label: string, call: () => Promise<T>): Promise<T> {
    const held = this.holders.get(owner);
    if (held) return this.track(owner, held, call);
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        // Another call of the same owner may have taken a slot while this one waited.
        let holder = this.holders.get(owner);
        if (!holder) {
          holder = { slot: this.free.pop()!, calls: 0 };
          this.holders.set(owner, holder);
          this.marker?.enter(holder.slot, label);
        } else if (this.free.length > 0) {
          this.waiting.shift()?.();
        }
        this.track(owner, holder, call).then(resolve, reject);
      };
      if (this.free.length > 0) start();
      else this.waiting.push(start);
    });
  }

  private track<T>(owner: object, holder: Holder, call: () => Promise<T>): Promise<T> {
    holder.calls++;
    let running: Promise<T>;
    try {
      running = call();
    } catch (error) {
      running = Promise.reject(error);
    }
    const release = () => {
      if (--holder.calls > 0) return;
      this.holders.delete(owner);
      this.marker?.exit(holder.slot);
      this.free.push(holder.slot);
      this.waiting.shift()?.();
    };
    running.then(release, release);
    return running;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }
}
