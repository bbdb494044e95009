// Charts drawn on the server as inline SVG: one time axis of equal buckets
// (hours, or days over long spans), bars for counts and lines for
// percentiles. Colours come from classes of the page's stylesheet, so the
// SVG carries no inline style (the CSP allows none).
import { formatNumber, formatTime } from "./format.js";
import { html, type SafeHtml } from "./html.js";

export interface ChartSeries {
  label: string;
  kind: "bar" | "line";
  /** A class of the stylesheet: bar-requests, bar-errors, bar-cpu, line-p50, line-p99. */
  cls: string;
  /** One value per bucket; null: nothing known there (no records kept). */
  values: readonly (number | null)[];
}

export interface TimeChart {
  title: string;
  /** Each bucket's start, ms since the epoch, oldest first. */
  buckets: readonly number[];
  bucketMs: number;
  series: readonly ChartSeries[];
  /** The unit of the values, for the axis and the tooltips ("ms", ""). */
  unit?: string;
}

const WIDTH = 560;
const HEIGHT = 170;
const LEFT = 52;
const RIGHT = 10;
const TOP = 24;
const BOTTOM = 22;

export function timeChart(chart: TimeChart): SafeHtml {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const count = Math.max(1, chart.buckets.length);
  const step = plotWidth / count;
  const max = niceMax(Math.max(0, ...chart.series.flatMap((series) => series.values.filter((value): value is number => value !== null))));
  const y = (value: number) => TOP + plotHeight - (max === 0 ? 0 : (value / max) * plotHeight);
  const unit = chart.unit ? ` ${chart.unit}` : "";
  const bars = chart.series.filter((series) => series.kind === "bar");
  const barWidth = Math.max(1, (step * 0.8) / Math.max(1, bars.length));
  const shapes: SafeHtml[] = [];
  bars.forEach((series, index) => {
    series.values.forEach((value, bucket) => {
      if (value === null || value <= 0) return;
      const x = LEFT + bucket * step + step * 0.1 + index * barWidth;
      const top = y(value);
      shapes.push(
        html`<rect class="${series.cls}" x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(TOP + plotHeight - top).toFixed(1)}"><title>${formatTime(chart.buckets[bucket]!)}: ${formatNumber(value)}${unit} ${series.label}</title></rect>`,
      );
    });
  });
  for (const series of chart.series.filter((s) => s.kind === "line")) {
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) shapes.push(html`<polyline class="${series.cls}" points="${run.join(" ")}"></polyline>`);
      run = [];
    };
    series.values.forEach((value, bucket) => {
      if (value === null) return flush();
      const x = LEFT + bucket * step + step / 2;
      run.push(`${x.toFixed(1)},${y(value).toFixed(1)}`);
      shapes.push(html`<circle class="${series.cls.replace("line-", "dot-")}" cx="${x.toFixed(1)}" cy="${y(value).toFixed(1)}" r="2.5"><title>${formatTime(chart.buckets[bucket]!)}: ${series.label} ${formatNumber(value)}${unit}</title></circle>`);
    });
    flush();
  }
  const first = chart.buckets[0];
  const last = chart.buckets[chart.buckets.length - 1];
  const total = chart.series.length === 1 && chart.series[0]!.kind === "bar" ? chart.series[0]!.values.reduce<number>((sum, value) => sum + (value ?? 0), 0) : null;
  return html`<svg class="chart" role="img" aria-label="${chart.title}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" xmlns="http://www.w3.org/2000/svg">
<text x="${LEFT}" y="15">${chart.title}${total !== null ? ` (total ${formatNumber(Math.round(total * 1000) / 1000)}${unit})` : ""}</text>
<line class="axis" x1="${LEFT}" y1="${TOP + plotHeight}" x2="${WIDTH - RIGHT}" y2="${TOP + plotHeight}"></line>
<line class="axis" x1="${LEFT}" y1="${TOP}" x2="${LEFT}" y2="${TOP + plotHeight}"></line>
<text x="${LEFT - 6}" y="${TOP + 4}" text-anchor="end">${formatNumber(max)}</text>
<text x="${LEFT - 6}" y="${TOP + plotHeight}" text-anchor="end">0</text>
${first !== undefined ? html`<text x="${LEFT}" y="${HEIGHT - 6}">${formatTime(first)}</text>` : ""}
${last !== undefined && count > 1 ? html`<text x="${WIDTH - RIGHT}" y="${HEIGHT - 6}" text-anchor="end">${formatTime(last + chart.bucketMs)}</text>` : ""}
${shapes}
</svg>`;
}

/** A round ceiling for an axis: 7 → 10, 130 → 200, 0.3 → 0.5. */
function niceMax(value: number): number {
  if (value <= 0) return 0;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/** The canary's share as a bar: the active version's part and the canary's, labelled. */
export function splitBar(active: number, canary: number, percent: number): SafeHtml {
  const width = 420;
  const canaryWidth = Math.max(24, (width * percent) / 100);
  const activeWidth = width - canaryWidth;
  return html`<svg role="img" aria-label="v${active} serves ${100 - percent}%, canary v${canary} serves ${percent}%" viewBox="0 0 ${width} 26" width="${width}" height="26" xmlns="http://www.w3.org/2000/svg">
<rect class="split-active" x="0" y="0" width="${activeWidth.toFixed(1)}" height="26"></rect>
<rect class="split-canary" x="${activeWidth.toFixed(1)}" y="0" width="${canaryWidth.toFixed(1)}" height="26"></rect>
<text class="split-label" x="8" y="17">v${active} · ${100 - percent}%</text>
<text class="split-label" x="${(activeWidth + 4).toFixed(1)}" y="17">v${canary} · ${percent}%</text>
</svg>`;
}
