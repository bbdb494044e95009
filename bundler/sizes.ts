// Byte counts as people read them in a terminal: "304 B", "63.5 KiB", "1.20 MiB".

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

/** "63.5 KiB (17.2 KiB gzip)" */
export function formatBundleSize(bytes: number, gzipBytes: number): string {
  return `${formatBytes(bytes)} (${formatBytes(gzipBytes)} gzip)`;
}
