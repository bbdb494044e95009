// A script's live tail: a page whose script opens an EventSource on
// …/tail/events, which is the control API's own tail (streamTail of
// ../../logs-routes.ts: the same server-sent events as GET
// /v1/scripts/:name/logs, the same filters), authenticated by the session
// cookie instead of the bearer token. Each invocation becomes a row at the
// top of the table, built with textContent: nothing of a record is parsed as HTML.
import type { Context } from "hono";
import type { ServerResponse } from "node:http";
import { parseFilter, parseSampleRate } from "../../../observe/filter.js";
import { OUTCOMES, TRIGGERS } from "../../../observe/records.js";
import { streamTail } from "../../logs-routes.js";
import type { DashboardEnv } from "../auth.js";
import { html, scriptPath } from "../html.js";
import type { DashboardOptions } from "../index.js";
import { page } from "../layout.js";
import { existingScript } from "../lookup.js";
import { filterFields, FILTER_KEYS } from "./filters.js";

export function tailPage(c: Context<DashboardEnv>, options: DashboardOptions, rawName: string): Response {
  const { name } = existingScript(options.deployments, rawName);
  const query: Record<string, string> = {};
  for (const key of [...FILTER_KEYS, "sample"]) {
    const value = c.req.query(key);
    if (value !== undefined && value !== "") query[key] = value;
  }
  // A bad filter is said here, with the form, rather than by an event stream that fails.
  let problem: string | null = null;
  try {
    parseFilter((key) => query[key]);
    parseSampleRate(query["sample"]);
  } catch (error) {
    problem = error instanceof Error ? error.message : String(error);
  }
  return page(c, {
    title: `${name}: live tail`,
    session: c.get("session"),
    nav: "scripts",
    ...(problem !== null ? { status: 400 } : {}),
    script: problem === null ? TAIL_SCRIPT : "",
    body: html`<h1><a href="${scriptPath(name)}">${name}</a>: live tail</h1>
<form method="get" class="filters" action="${scriptPath(name, "/tail")}">
${filterFields(query, { outcomes: OUTCOMES, triggers: TRIGGERS })}
<label>Sample<input name="sample" value="${query["sample"] ?? ""}" placeholder="1" size="5"></label>
<button type="submit">Apply</button>
</form>
${problem !== null
  ? html`<p class="error-box" id="filter-error">${problem}</p>`
  : html`<p>Status: <span id="tail-state" data-state="connecting">connecting…</span> · <span id="tail-count">0</span> invocations shown (the newest 500 are kept)</p>
<table id="tail">
<thead><tr><th>Time</th><th>Version</th><th>Trigger</th><th>Request or event</th><th>Status</th><th>Outcome</th><th class="num">Wall</th><th class="num">CPU</th><th>Logs</th></tr></thead>
<tbody id="tail-rows" data-events="${scriptPath(name, "/tail/events", query)}"></tbody>
</table>`}`,
  });
}

/** The tail's server-sent events (a bad filter: 400 before anything is streamed). */
export function tailEvents(c: Context<DashboardEnv>, options: DashboardOptions, rawName: string): Response {
  const { name } = existingScript(options.deployments, rawName);
  const { outgoing } = c.env as { outgoing: ServerResponse };
  const answer = streamTail(options, name, (key) => c.req.query(key), outgoing);
  // A tail is opened with the session and ends with it (logout, expiry): the cookie was checked once, at the start.
  const { streams } = c.get("session");
  const close = () => outgoing.destroy();
  streams.add(close);
  outgoing.once("close", () => streams.delete(close));
  return answer;
}

const TAIL_SCRIPT = `
(() => {
  const rows = document.getElementById("tail-rows");
  const state = document.getElementById("tail-state");
  const count = document.getElementById("tail-count");
  const MAX_ROWS = 500;
  let shown = 0;
  const cell = (row, text, className) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.append(td);
    return td;
  };
  const ms = (value) => (value === null || value === undefined ? "" : (value < 10 ? value.toFixed(2) : value.toFixed(1)) + " ms");
  const source = new EventSource(rows.dataset.events);
  source.addEventListener("ready", () => {
    state.textContent = "live";
    state.dataset.state = "live";
  });
  source.addEventListener("error", () => {
    const closed = source.readyState === EventSource.CLOSED;
    state.textContent = closed ? "closed (reload the page; the session may have ended)" : "reconnecting…";
    state.dataset.state = "down";
  });
  source.addEventListener("invocation", (event) => {
    const record = JSON.parse(event.data);
    const row = document.createElement("tr");
    row.dataset.id = String(record.id);
    if (record.outcome !== "ok" || (record.status !== null && record.status >= 500)) row.className = "bad";
    cell(row, record.time.replace("T", " ").replace(/\\.\\d+Z$/, "Z"));
    cell(row, "v" + record.version);
    cell(row, record.trigger);
    cell(row, record.method !== null ? record.method + " " + record.path : record.event || "", "mono");
    cell(row, record.status === null ? "" : String(record.status));
    cell(row, record.outcome);
    cell(row, ms(record.wall_ms), "num");
    cell(row, ms(record.cpu_ms), "num");
    const logs = cell(row, "");
    const lines = record.logs.map((line) => line.level + ": " + line.message);
    if (record.error) lines.push(record.error);
    if (record.dropped_logs > 0) lines.push("(" + record.dropped_logs + " more lines not kept)");
    if (lines.length > 0) {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = lines.length + (lines.length === 1 ? " line" : " lines");
      const pre = document.createElement("pre");
      pre.textContent = lines.join("\\n");
      details.append(summary, pre);
      logs.append(details);
    }
    rows.prepend(row);
    while (rows.rows.length > MAX_ROWS) rows.deleteRow(-1);
    shown++;
    count.textContent = String(shown);
  });
})();
`;
