// A config as text that two configs meaning the same give alike: every
// object's keys sorted (TOML tables are unordered, and atoll.toml is parsed
// into the same defaults every time), arrays in their order. Used to tell
// whether an upload changes anything (front/deployments.ts).

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortedKeys(value));
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (typeof value !== "object" || value === null) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortedKeys((value as Record<string, unknown>)[key]);
  return sorted;
}
