// Summaries of a few rounds of one figure: the median and the spread (min–max).

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** "1234 req/s (1200–1300)": the median, its unit, and the spread over the rounds; no spread when there is one round. */
export function medianAndSpread(values: number[], format: (value: number) => string, unit = ""): string {
  const spread = values.length > 1 ? ` (${format(Math.min(...values))}–${format(Math.max(...values))})` : "";
  return `${format(median(values))}${unit}${spread}`;
}

/** The element whose key is the median (the lower middle one for an even count): a whole round, whose parts add up. */
export function medianBy<T>(items: T[], key: (item: T) => number): T | undefined {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}
