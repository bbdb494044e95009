// The filter fields the live tail and the invocation search share: those of
// `atoll tail` and `atoll logs` (status, outcome, method, trigger, search
// text), with the same query-string names as the control API's.
import { html, type SafeHtml } from "../html.js";

export const FILTER_KEYS = ["status", "outcome", "method", "trigger", "search"] as const;

export function filterFields(query: Record<string, string | undefined>, choices: { outcomes: readonly string[]; triggers: readonly string[] }): SafeHtml {
  const select = (name: string, label: string, values: readonly string[]) =>
    html`<label>${label}<select name="${name}"><option value="">any</option>${values.map((value) => html`<option value="${value}"${query[name] === value ? html` selected` : ""}>${value}</option>`)}${
      query[name] !== undefined && query[name] !== "" && !values.includes(query[name]!) ? html`<option value="${query[name]}" selected>${query[name]}</option>` : ""
    }</select></label>`;
  return html`<label>Status<input name="status" value="${query["status"] ?? ""}" placeholder="5xx,404" size="9"></label>
${select("outcome", "Outcome", choices.outcomes)}
<label>Method<input name="method" value="${query["method"] ?? ""}" placeholder="GET" size="7"></label>
${select("trigger", "Trigger", choices.triggers)}
<label>Search<input name="search" value="${query["search"] ?? ""}" placeholder="text in path, event, error, logs" size="28"></label>`;
}
