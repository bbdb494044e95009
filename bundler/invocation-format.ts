// How `atoll tail` and `atoll logs` print an invocation record (the control
// API's JSON, host/control/logs-routes.ts recordJson): one line for the
// invocation, one indented line per console line. Everything the function or
// its client wrote passes through terminalSafe.
import { terminalSafe } from "../host/terminal-text.js";

export interface InvocationJson {
  time: string;
  script: string;
  version: number;
  trigger: string;
  method: string | null;
  path: string | null;
  event: string | null;
  status: number | null;
  outcome: string;
  wall_ms: number;
  cpu_ms: number | null;
  bytes_in: number | null;
  bytes_out: number | null;
  error: string | null;
  logs: { level: string; message: string; time: string }[];
  dropped_logs: number;
}

export function formatInvocation(record: InvocationJson): string {
  const what = record.method !== null ? `${record.method} ${record.path ?? ""}` : `${record.trigger} ${record.event ?? ""}`;
  const status = record.status === null ? "" : ` ${record.status}`;
  const cpu = record.cpu_ms === null ? "" : ` (cpu ${record.cpu_ms.toFixed(2)}ms)`;
  const lines = [`${record.time} ${record.script}@v${record.version} ${what}${status} ${record.outcome} ${record.wall_ms.toFixed(1)}ms${cpu}`];
  for (const line of record.logs) lines.push(`  ${line.level}: ${line.message}`);
  if (record.dropped_logs > 0) lines.push(`  (${record.dropped_logs} more console lines not kept)`);
  if (record.error) lines.push(`  ${record.error}`);
  return terminalSafe(lines.join("\n"), false);
}
