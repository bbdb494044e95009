// What usage costs under a price table ([billing] of the host config,
// ../config/host-config.ts), unit by unit as Lambda's and Workers' price pages
// bill it. Pure functions: GET /v1/usage and the dashboard's usage page call
// them. A period costs the sum of its hours' costs: storage is billed per
// hour (GB-month / 730) from each hour's sample, not from one total.
import type { PriceTable } from "../config/host-config.js";
import type { UsageRow } from "./invocation-store.js";

/** GB on every price page here: 1e9 bytes. */
const BYTES_PER_GB = 1e9;
/** An hour's share of a month's storage, as R2 and S3 count it. */
const HOURS_PER_MONTH = 730;

/** The prices cost() reads: a price table without its currency. */
export type Prices = Omit<PriceTable, "currency">;

/** A cost in the table's currency, by what it pays for; `total` is the sum of the rest. */
export interface Cost {
  total: number;
  requests: number;
  cpu: number;
  /** GB-seconds. */
  duration: number;
  /** Response bytes sent. */
  egress: number;
  /** Outbound fetch bytes, sent and received. */
  fetch: number;
  /** KV reads, writes and lists. */
  kv: number;
  /** Bucket class A and B operations. */
  buckets: number;
  /** Bytes stored, for the hour. */
  storage: number;
}

/** The parts of a Cost, in the order they are shown. */
export const COST_PARTS = ["requests", "cpu", "duration", "egress", "fetch", "kv", "buckets", "storage"] as const satisfies readonly (keyof Cost)[];

/** What one hour of one script's usage costs. */
export function cost(row: UsageRow, prices: Prices): Cost {
  const parts = {
    requests: (row.requests * prices.requests_per_million) / 1e6,
    cpu: (row.cpuMs * prices.cpu_ms_per_million) / 1e6,
    duration: row.gbSeconds * prices.gb_second,
    egress: (row.bytesOut / BYTES_PER_GB) * prices.egress_gb,
    fetch: ((row.fetchBytesOut + row.fetchBytesIn) / BYTES_PER_GB) * prices.fetch_gb,
    kv: (row.kvReads * prices.kv_reads_per_million + row.kvWrites * prices.kv_writes_per_million + row.kvLists * prices.kv_lists_per_million) / 1e6,
    buckets: (row.bucketClassA * prices.bucket_class_a_per_million + row.bucketClassB * prices.bucket_class_b_per_million) / 1e6,
    storage: ((row.bytesStored / BYTES_PER_GB) * prices.storage_gb_month) / HOURS_PER_MONTH,
  };
  return { total: COST_PARTS.reduce((sum, part) => sum + parts[part], 0), ...parts };
}

/** Costs added part by part (a period's hours, or several scripts). */
export function sumCosts(costs: readonly Cost[]): Cost {
  const total: Cost = { total: 0, requests: 0, cpu: 0, duration: 0, egress: 0, fetch: 0, kv: 0, buckets: 0, storage: 0 };
  for (const one of costs) for (const key of ["total", ...COST_PARTS] as const) total[key] += one[key];
  return total;
}

/** What a period costs: its hours' costs summed (`rows`: one script's hours). */
export function periodCost(rows: readonly UsageRow[], prices: Prices): Cost {
  return sumCosts(rows.map((row) => cost(row, prices)));
}

/**
 * A cost as answers carry it: each part rounded to 1e-9 of the currency (one
 * request at a price per million still shows), and the total the sum of the
 * rounded parts, so that the parts add up to it.
 */
export function roundedCost(value: Cost): Cost {
  const parts = Object.fromEntries(COST_PARTS.map((part) => [part, roundCost(value[part])])) as Record<(typeof COST_PARTS)[number], number>;
  return { total: roundCost(COST_PARTS.reduce((sum, part) => sum + parts[part], 0)), ...parts };
}

function roundCost(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}

/** "$0.000123" for USD, "0.000123 EUR" otherwise: at least 6 decimals, up to 9 for what is smaller. */
export function formatCost(value: number, currency: string): string {
  const digits = value.toFixed(9).replace(/0{1,3}$/, "");
  return currency === "USD" ? `$${digits}` : `${digits} ${currency}`;
}

const PART_LABELS: Record<(typeof COST_PARTS)[number], string> = {
  requests: "requests",
  cpu: "CPU",
  duration: "GB-s",
  egress: "egress",
  fetch: "fetch",
  kv: "KV",
  buckets: "buckets",
  storage: "storage",
};

/** The parts that cost something, "requests $0.000003, CPU $0.0000012", or "nothing billed". */
export function describeCost(value: Cost, currency: string): string {
  const rounded = roundedCost(value);
  const parts = COST_PARTS.filter((part) => rounded[part] > 0).map((part) => `${PART_LABELS[part]} ${formatCost(rounded[part], currency)}`);
  return parts.length === 0 ? "nothing billed" : parts.join(", ");
}
