// Which script versions a worker process is executing right now, kept in a
// small file the front can read after the worker died. Some V8 failures
// ('ab'.repeat(2**26).split(''), fast Map growth) end the whole process with
// no callback and no chance to send a message; this file is how the front
// still learns which function did it, to quarantine it.
//
// Layout: one fixed-size record holding the UTF-8 label of the version
// executing ("script@version"), or zeros. (readExecutionMarker reads any
// number of records.)
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";

const RECORD_BYTES = 160;

/** Creates (or resets) a marker file with an empty record. */
export function createExecutionMarker(path: string): void {
  writeFileSync(path, Buffer.alloc(RECORD_BYTES), { mode: 0o600 });
}

/** The labels of the versions that were executing when the file was last written. */
export function readExecutionMarker(path: string): string[] {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch {
    return [];
  }
  const labels: string[] = [];
  for (let offset = 0; offset + RECORD_BYTES <= content.length; offset += RECORD_BYTES) {
    const record = content.subarray(offset, offset + RECORD_BYTES);
    const end = record.indexOf(0);
    const label = record.subarray(0, end === -1 ? RECORD_BYTES : end).toString("utf8");
    if (label) labels.push(label);
  }
  return labels;
}

export function removeExecutionMarker(path: string): void {
  rmSync(path, { force: true });
}

/**
 * The worker's side. A worker executes one isolate at a time, on its main
 * thread, so the file holds one record. `enter` writes the label when it
 * differs from the one in the file; `exit` clears it at the end of the turn,
 * not at once: under load the label stays put across calls of the same
 * version and costs no write. A death between a call's end and that clear
 * (in host code, not in any isolate) names the version that ran last.
 */
export class ExecutionMarkerWriter {
  private readonly fd: number;
  private readonly empty = Buffer.alloc(RECORD_BYTES);
  private readonly encoded = new Map<string, Buffer>();
  /** What the file says now ("" when empty). */
  private written = "";
  private executing = false;
  private clearScheduled = false;

  constructor(path: string) {
    this.fd = openSync(path, "r+");
  }

  enter(label: string): void {
    this.executing = true;
    if (this.written === label) return;
    let record = this.encoded.get(label);
    if (!record) {
      record = Buffer.alloc(RECORD_BYTES);
      record.write(label.slice(0, RECORD_BYTES / 4), "utf8");
      if (this.encoded.size > 10_000) this.encoded.clear();
      this.encoded.set(label, record);
    }
    writeSync(this.fd, record, 0, RECORD_BYTES, 0);
    this.written = label;
  }

  exit(): void {
    this.executing = false;
    if (this.clearScheduled) return;
    this.clearScheduled = true;
    setImmediate(() => {
      this.clearScheduled = false;
      if (this.executing || this.written === "") return;
      writeSync(this.fd, this.empty, 0, RECORD_BYTES, 0);
      this.written = "";
    });
  }

  close(): void {
    closeSync(this.fd);
  }
}
