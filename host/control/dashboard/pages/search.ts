// Invocation search: the stored records of one script, with the filters of
// `atoll logs` (since, until, status, outcome, method, trigger, search text,
// limit), read by queryInvocations (../../logs-routes.ts: the query of GET
// /v1/scripts/:name/invocations), newest first, a page at a time.
import type { Context } from "hono";
import { AtollError } from "../../../errors.js";
import type { StoredRecord } from "../../../observe/invocation-store.js";
import { OUTCOMES, TRIGGERS } from "../../../observe/records.js";
import { queryInvocations } from "../../logs-routes.js";
import type { DashboardEnv } from "../auth.js";
import { formatBytes, formatMs, formatTime } from "../format.js";
import { dashboardPath, html, type SafeHtml } from "../html.js";
import type { DashboardOptions } from "../index.js";
import { page } from "../layout.js";
import { existingScript } from "../lookup.js";
import { filterFields, FILTER_KEYS } from "./filters.js";

const QUERY_KEYS = ["script", "since", "until", "limit", ...FILTER_KEYS] as const;

export async function searchPage(c: Context<DashboardEnv>, options: DashboardOptions): Promise<Response> {
  const names = (await options.store.listScripts()).map((script) => script.name);
  const query: Record<string, string> = {};
  for (const key of QUERY_KEYS) {
    const value = c.req.query(key);
    if (value !== undefined && value !== "") query[key] = value.trim();
  }
  // As `atoll logs`: the last hour unless asked otherwise; the first script when none is named.
  query["since"] ??= "1h";
  query["script"] ??= names[0] ?? "";
  const before = c.req.query("before");

  let results: SafeHtml;
  let status = 200;
  if (names.length === 0) results = html`<p class="muted">No script is deployed on this host yet.</p>`;
  else {
    try {
      const { name } = existingScript(options.deployments, query["script"]);
      const { records, limit } = queryInvocations({ observer: options.observer, store: options.observer.store }, name, (key) => (key === "before" ? before : query[key]));
      const next = records.length === limit ? records[records.length - 1]!.seq : null;
      results = html`<p class="muted" id="result-count">${records.length === 0 ? "No invocation matches." : `${records.length} invocation${records.length === 1 ? "" : "s"}, newest first.`}</p>
${records.length === 0 ? "" : recordsTable(records)}
${next !== null ? html`<p><a href="${dashboardPath("/search", { ...query, before: next })}">Older</a></p>` : ""}`;
    } catch (error) {
      if (!(error instanceof AtollError)) throw error;
      status = error.status;
      results = html`<p class="error-box" id="search-error">${error.message}</p>`;
    }
  }

  return page(c, {
    title: "Invocations",
    session: c.get("session"),
    nav: "search",
    status,
    body: html`<h1>Invocations</h1>
<form method="get" action="/dashboard/search" class="filters" id="search-form">
<label>Script<select name="script">${names.map((name) => html`<option value="${name}"${name === query["script"] ? html` selected` : ""}>${name}</option>`)}</select></label>
<label>Since<input name="since" value="${query["since"]}" placeholder="1h, 30m, 7d or an ISO time" size="10"></label>
<label>Until<input name="until" value="${query["until"] ?? ""}" placeholder="now" size="10"></label>
${filterFields(query, { outcomes: OUTCOMES, triggers: TRIGGERS })}
<label>Limit<input name="limit" value="${query["limit"] ?? ""}" placeholder="100" size="5"></label>
<button type="submit" class="primary">Search</button>
</form>
${results}`,
  });
}

function recordsTable(records: readonly StoredRecord[]): SafeHtml {
  return html`<table id="invocations">
<thead><tr><th>Time</th><th>Version</th><th>Trigger</th><th>Request or event</th><th>Status</th><th>Outcome</th><th class="num">Wall</th><th class="num">CPU</th><th class="num">In / out</th><th>Logs</th></tr></thead>
<tbody>${records.map((record) => {
    const bad = record.outcome !== "ok" || (record.status !== null && record.status >= 500);
    const lines = record.logs.map((line) => `${line.level}: ${line.message}`);
    if (record.error) lines.push(record.error);
    if (record.droppedLogs > 0) lines.push(`(${record.droppedLogs} more lines not kept)`);
    return html`<tr data-seq="${record.seq}"${bad ? html` class="bad"` : ""}>
<td>${formatTime(record.time)}</td><td>v${record.version}</td><td>${record.trigger}</td>
<td class="mono">${record.method !== null ? `${record.method} ${record.path ?? ""}` : (record.event ?? "")}</td>
<td>${record.status ?? ""}</td><td>${record.outcome}</td><td class="num">${formatMs(record.wallMs)}</td><td class="num">${formatMs(record.cpuMs)}</td>
<td class="num">${formatBytes(record.bytesIn)} / ${formatBytes(record.bytesOut)}</td>
<td>${lines.length === 0 ? "" : html`<details><summary>${lines.length} line${lines.length === 1 ? "" : "s"}</summary><pre>${lines.join("\n")}</pre></details>`}</td>
</tr>`;
  })}</tbody>
</table>`;
}
