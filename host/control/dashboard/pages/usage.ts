// Usage over time, per script: requests, errors and CPU-ms from the hourly
// usage table (usageByScript of ../../usage-routes.ts: what GET /v1/usage
// reads), and the p50 and p99 of wall time per hour computed from the stored
// records (so only as far back as they are kept). Charts are inline SVG
// (../charts.ts); spans over 8 days are drawn by day. With a price table
// ([billing] of the host config), each script's cost and the total.
import type { Context } from "hono";
import { AtollError } from "../../../errors.js";
import { describeCost, formatCost, periodCost, roundedCost, sumCosts, type Cost } from "../../../observe/billing.js";
import { sumUsage, type UsageRow, type WallPercentiles } from "../../../observe/invocation-store.js";
import { usageByScript } from "../../usage-routes.js";
import type { DashboardEnv } from "../auth.js";
import { timeChart } from "../charts.js";
import { formatBytes, formatNumber, formatTime } from "../format.js";
import { html, scriptPath, type SafeHtml } from "../html.js";
import type { DashboardOptions } from "../index.js";
import { page } from "../layout.js";

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;
const SPANS = ["6h", "24h", "7d", "30d", "90d"];

export async function usagePage(c: Context<DashboardEnv>, options: DashboardOptions): Promise<Response> {
  const names = (await options.store.listScripts()).map((script) => script.name);
  const sinceText = c.req.query("since") || "24h";
  const script = c.req.query("script") || undefined;
  const query = (key: string) => (key === "since" ? sinceText : key === "script" ? script : key === "until" ? c.req.query("until") || undefined : undefined);
  let body: SafeHtml;
  let status = 200;
  try {
    const { since, until, byScript } = usageByScript(options.observer, query, "24h");
    const span = until - since;
    const bucketMs = span <= 8 * DAY_MS ? HOUR_MS : span <= 400 * DAY_MS ? DAY_MS : 7 * DAY_MS;
    const first = Math.floor(since / bucketMs) * bucketMs;
    const buckets: number[] = [];
    for (let start = first; start <= until; start += bucketMs) buckets.push(start);
    const percentiles = options.observer.store!.wallPercentiles({ since, until, bucketMs, ...(script !== undefined ? { script } : {}) });
    const billing = options.billing;
    // A period costs the sum of its hours' costs, shown rounded as GET /v1/usage answers it.
    const costs = new Map([...byScript.entries()].map(([name, rows]) => [name, billing ? periodCost(rows, billing) : null]));
    body =
      byScript.size === 0
        ? html`<p class="muted" id="no-usage">No invocations from ${formatTime(since)} to ${formatTime(until)}.</p>`
        : html`${[...byScript.entries()].map(([name, rows]) => scriptUsage(name, rows, percentiles.filter((p) => p.script === name), buckets, bucketMs, billing && { cost: roundedCost(costs.get(name)!), currency: billing.currency }))}`;
    const totalCost = billing && byScript.size > 0 ? roundedCost(sumCosts([...costs.values()].filter((one) => one !== null))) : null;
    body = html`<p class="muted">From ${formatTime(since)} to ${formatTime(until)}, by ${bucketMs === HOUR_MS ? "hour" : bucketMs === DAY_MS ? "day" : "week"} (UTC).</p>${
      billing && totalCost ? html`<p id="total-cost">Total cost: <strong data-total="cost">${formatCost(totalCost.total, billing.currency)}</strong> <span class="muted">(${describeCost(totalCost, billing.currency)})</span></p>` : ""
    }${body}`;
  } catch (error) {
    if (!(error instanceof AtollError)) throw error;
    status = error.status;
    body = html`<p class="error-box" id="usage-error">${error.message}</p>`;
  }
  return page(c, {
    title: "Usage",
    session: c.get("session"),
    nav: "usage",
    status,
    body: html`<h1>Usage</h1>
<form method="get" action="/dashboard/usage" class="filters">
<label>Script<select name="script"><option value="">every script</option>${names.map((name) => html`<option value="${name}"${name === script ? html` selected` : ""}>${name}</option>`)}</select></label>
<label>Since<select name="since">${[...new Set([...SPANS, sinceText])].map((span) => html`<option value="${span}"${span === sinceText ? html` selected` : ""}>${span}</option>`)}</select></label>
<button type="submit" class="primary">Show</button>
</form>
${body}`,
  });
}

function scriptUsage(name: string, rows: readonly UsageRow[], percentiles: readonly WallPercentiles[], buckets: readonly number[], bucketMs: number, priced: { cost: Cost; currency: string } | null): SafeHtml {
  const index = new Map(buckets.map((start, i) => [start, i]));
  const slot = (time: number) => index.get(Math.floor(time / bucketMs) * bucketMs);
  const requests = buckets.map(() => 0);
  const errors = buckets.map(() => 0);
  const cpu = buckets.map(() => 0);
  for (const row of rows) {
    const i = slot(row.hour);
    if (i === undefined) continue;
    requests[i]! += row.requests;
    errors[i]! += row.errors;
    cpu[i]! += row.cpuMs;
  }
  const p50: (number | null)[] = buckets.map(() => null);
  const p99: (number | null)[] = buckets.map(() => null);
  for (const p of percentiles) {
    const i = slot(p.bucket);
    if (i === undefined) continue;
    p50[i] = p.p50;
    p99[i] = p.p99;
  }
  const total = (field: keyof Omit<UsageRow, "script" | "hour">) => rows.reduce((sum, row) => sum + row[field], 0);
  // The peak and the bytes stored are not sums: the highest, and the latest hour's.
  const summed = sumUsage(name, rows);
  return html`<section class="usage" data-script="${name}">
<h2><a href="${scriptPath(name)}">${name}</a></h2>
<table class="totals"><thead><tr><th class="num">Requests</th><th class="num">Errors</th><th class="num">CPU</th><th class="num">GB-s</th><th class="num">In</th><th class="num">Out</th><th class="num">KV reads / writes / lists</th><th class="num">Bucket class A / B</th><th class="num">Fetch in / out</th><th class="num">Peak heap</th><th class="num">Stored</th>${priced ? html`<th class="num">Cost</th>` : ""}</tr></thead>
<tbody><tr><td class="num" data-total="requests">${formatNumber(total("requests"))}</td><td class="num" data-total="errors">${formatNumber(total("errors"))}</td><td class="num">${formatNumber(Math.round(total("cpuMs") * 100) / 100)} ms</td><td class="num">${gbSeconds(total("gbSeconds"))}</td>
<td class="num">${formatBytes(total("bytesIn"))}</td><td class="num">${formatBytes(total("bytesOut"))}</td><td class="num">${total("kvReads")} / ${total("kvWrites")} / ${total("kvLists")}</td><td class="num">${total("bucketClassA")} / ${total("bucketClassB")}</td>
<td class="num">${formatBytes(total("fetchBytesIn"))} / ${formatBytes(total("fetchBytesOut"))}</td><td class="num">${Math.round(summed.peakHeapMb * 10) / 10} MiB</td><td class="num" title="${formatNumber(summed.objectsStored)} objects, the latest hour">${formatBytes(summed.bytesStored)}</td>${
    priced ? html`<td class="num" data-total="cost" title="${describeCost(priced.cost, priced.currency)}">${formatCost(priced.cost.total, priced.currency)}</td>` : ""
  }</tr></tbody></table>
<div class="charts">
${timeChart({ title: "Requests", buckets, bucketMs, series: [{ label: "requests", kind: "bar", cls: "bar-requests", values: requests }] })}
${timeChart({ title: "Errors", buckets, bucketMs, series: [{ label: "errors", kind: "bar", cls: "bar-errors", values: errors }] })}
<div>${timeChart({ title: "Wall time p50 / p99", unit: "ms", buckets, bucketMs, series: [{ label: "p50", kind: "line", cls: "line-p50", values: p50 }, { label: "p99", kind: "line", cls: "line-p99", values: p99 }] })}
<p class="legend muted"><span class="p50">● p50</span><span class="p99">● p99</span> (from the stored records)</p></div>
${timeChart({ title: "CPU", unit: "ms", buckets, bucketMs, series: [{ label: "CPU", kind: "bar", cls: "bar-cpu", values: cpu.map((value) => Math.round(value * 1000) / 1000) }] })}
</div>
</section>`;
}

/** GB-seconds of a few small calls are tiny: three significant digits below 1. */
function gbSeconds(value: number): string {
  return value === 0 ? "0" : value < 1 ? value.toPrecision(3) : formatNumber(Math.round(value * 1000) / 1000);
}
