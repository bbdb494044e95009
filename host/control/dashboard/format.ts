// How the dashboard writes times, durations and sizes: UTC, compact, the same
// on every page (the CLI writes ISO times too).

/** "2026-12-07 10:44:18Z" from ms since the epoch or an ISO time. */
export function formatTime(time: number | string): string {
  const ms = typeof time === "number" ? time : Date.parse(time);
  if (!Number.isFinite(ms)) return String(time);
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** "3.4 ms", "1.2 s". */
export function formatMs(ms: number | null): string {
  if (ms === null) return "";
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
}

/** "812 B", "4.1 KiB", "2.0 MiB". */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** A figure for a chart's axis or a table: 1234 → "1,234", 0.5 → "0.5". */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return value.toLocaleString("en-US", { maximumFractionDigits: value < 10 ? 2 : 1 });
}

/** "in 3 h 12 min", "in 42 s", "due". */
export function formatFromNow(time: number, now = Date.now()): string {
  const seconds = Math.round((time - now) / 1000);
  if (seconds <= 0) return "due";
  if (seconds < 120) return `in ${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `in ${hours} h ${minutes % 60} min`;
  return `in ${Math.round(hours / 24)} days`;
}
