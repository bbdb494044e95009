// The scripts page: every script with its routes, its URLs, the active
// version and the canary (version and share) of a gradual deploy in progress.
import type { Context } from "hono";
import type { ScriptConfig } from "../../../config/script-config.js";
import type { DashboardEnv } from "../auth.js";
import { formatTime } from "../format.js";
import { externalLink, html, scriptPath } from "../html.js";
import { page } from "../layout.js";
import type { DashboardOptions } from "../index.js";

export async function scriptsPage(c: Context<DashboardEnv>, { store, urlsFor }: DashboardOptions): Promise<Response> {
  const scripts = await store.listScripts();
  const rows = scripts.map((script) => {
    const config = script.config as ScriptConfig;
    return html`<tr data-script="${script.name}">
<td><a href="${scriptPath(script.name)}"><strong>${script.name}</strong></a></td>
<td>${config.routes.length === 0 ? html`<span class="muted">none</span>` : config.routes.map((route) => html`<code>${route}</code><br>`)}</td>
<td class="mono">${urlsFor(config).map((url) => html`${externalLink(url)}<br>`)}</td>
<td><span class="badge active">v${script.activeVersion}</span></td>
<td>${script.canary ? html`<span class="badge canary">v${script.canary.version} · ${script.canary.percent}%</span>` : html`<span class="muted">—</span>`}</td>
<td class="muted">${formatTime(script.updatedAt)}</td>
<td><a href="${scriptPath(script.name, "/tail")}">live tail</a> · <a href="${`/dashboard/search?script=${encodeURIComponent(script.name)}`}">invocations</a> · <a href="${`/dashboard/usage?script=${encodeURIComponent(script.name)}`}">usage</a></td>
</tr>`;
  });
  return page(c, {
    title: "Scripts",
    session: c.get("session"),
    nav: "scripts",
    body: html`<h1>Scripts</h1>
${scripts.length === 0
  ? html`<p class="muted">No script is deployed on this host yet: <code>atoll deploy</code> one.</p>`
  : html`<table id="scripts">
<thead><tr><th>Script</th><th>Routes</th><th>URLs</th><th>Active</th><th>Canary</th><th>Changed</th><th></th></tr></thead>
<tbody>${rows}</tbody>
</table>`}`,
  });
}
