// A script's page: the active version and the canary's split with the
// Promote and Cancel buttons, every version (newest first, a page at a time)
// with its config's diff against the active version's and a Rollback button,
// the cron schedules with their next runs, and the dead letters with Replay
// and Purge. Buttons POST to ./actions.ts.
import type { Context } from "hono";
import { versionNumber } from "../../params.js";
import type { DashboardEnv } from "../auth.js";
import { splitBar } from "../charts.js";
import { configLines, diffStats, foldUnchanged, lineDiff } from "../diff.js";
import { formatBytes, formatFromNow, formatTime } from "../format.js";
import { externalLink, html, scriptPath, type SafeHtml } from "../html.js";
import type { DashboardOptions } from "../index.js";
import { actionButton, page } from "../layout.js";
import { eventSummary, existingScript } from "../lookup.js";
import type { Session } from "../session.js";

/** Versions per page: each is read with its config for the diff. */
const VERSIONS_PER_PAGE = 10;
const DEAD_LETTERS_SHOWN = 50;

export async function scriptPage(c: Context<DashboardEnv>, options: DashboardOptions, rawName: string): Promise<Response> {
  const { store, triggers, urlsFor } = options;
  const { name, active } = existingScript(options.deployments, rawName);
  const session = c.get("session");
  const beforeText = c.req.query("before");
  const before = beforeText === undefined ? undefined : versionNumber(beforeText, "`before`");
  const summaries = await store.listVersions(name, { limit: VERSIONS_PER_PAGE + 1, ...(before !== undefined ? { before } : {}) });
  const more = summaries.length > VERSIONS_PER_PAGE;
  const versions = summaries.slice(0, VERSIONS_PER_PAGE);
  const activeVersion = active.key.version;
  const canary = active.canary && { version: active.canary.key.version, percent: active.canary.percent };
  const previous = (await store.lastActivation(name))?.previousVersion ?? null;
  const activeLines = configLines(active.config);
  const rows: SafeHtml[] = [];
  for (const version of versions) {
    const config = version.version === activeVersion ? active.config : (await store.getVersion(name, version.version))?.config;
    rows.push(versionRow(session, name, version, { activeVersion, canaryVersion: canary?.version ?? null, activeLines, config }));
  }
  const schedules = triggers.cron.describe(name);
  const deadLetters = await store.queue.listDeadLetters(name, { limit: DEAD_LETTERS_SHOWN });
  const actionPath = (action: string) => scriptPath(name, `/${action}`);

  const overview = html`<section id="overview">
<p>Active version <span class="badge active" id="active-version">v${activeVersion}</span>
${previous !== null && !canary ? actionButton(session, { action: actionPath("rollback"), label: `Roll back to the previous version (v${previous})`, confirm: `Make v${previous} the active version of ${name}?` }) : ""}</p>
${canary
  ? html`<div class="split" id="canary"><div>Gradual deploy: canary <span class="badge canary">v${canary.version}</span> serves ${canary.percent}% of clients</div>${splitBar(activeVersion, canary.version, canary.percent)}
${actionButton(session, { action: actionPath("promote"), label: `Promote v${canary.version}`, kind: "primary", confirm: `Make the canary v${canary.version} the active version of ${name}?` })}
${actionButton(session, { action: actionPath("cancel-canary"), label: "Cancel canary", kind: "danger", confirm: `Cancel the canary v${canary.version}? v${activeVersion} serves every client again.` })}</div>`
  : html`<p class="muted">No gradual deploy in progress (<code>atoll deploy --percent N</code> starts one).</p>`}
<p>Routes: ${active.config.routes.length === 0 ? html`<span class="muted">none</span>` : active.config.routes.map((route) => html`<code>${route}</code> `)}</p>
<p class="mono">${urlsFor(active.config).map((url) => html`${externalLink(url)}<br>`)}</p>
</section>`;

  const versionsSection = html`<h2>Versions</h2>
<table id="versions">
<thead><tr><th>Version</th><th>Created</th><th>Message</th><th>Bundle</th><th>Config against the active version</th><th></th></tr></thead>
<tbody>${rows}</tbody>
</table>
${more ? html`<p><a href="${scriptPath(name, "", { before: versions[versions.length - 1]!.version })}">Older versions</a></p>` : ""}
${before !== undefined ? html`<p><a href="${scriptPath(name)}">Newest versions</a></p>` : ""}`;

  const schedulesSection = html`<h2>Cron schedules</h2>
${schedules.length === 0
  ? html`<p class="muted" id="schedules">No cron schedules (<code>[triggers] crons</code> in atoll.toml).</p>`
  : html`<table id="schedules"><thead><tr><th>Schedule</th><th>Time zone</th><th>Next run</th></tr></thead><tbody>
${schedules.map((schedule) => html`<tr><td><code>${schedule.cron}</code></td><td>${schedule.timezone}</td><td>${schedule.next === null ? html`<span class="muted">never</span>` : html`${formatTime(schedule.next)} <span class="muted">(${formatFromNow(schedule.next)})</span>`}</td></tr>`)}
</tbody></table>`}`;

  const deadLetterSection = html`<h2>Dead letters</h2>
${deadLetters.length === 0
  ? html`<p class="muted" id="dead-letters">No dead-lettered events: every queued event was handled.</p>`
  : html`<p>${actionButton(session, { action: actionPath("dlq/replay"), label: "Replay all" })}${actionButton(session, { action: actionPath("dlq/purge"), label: "Purge all", kind: "danger", confirm: `Delete every dead-lettered event of ${name}?` })}</p>
<table id="dead-letters"><thead><tr><th>Id</th><th>Event</th><th>Attempts</th><th>Queued</th><th>Failed</th><th>Error</th><th></th></tr></thead><tbody>
${deadLetters.map(
  (letter) => html`<tr data-id="${letter.id}"><td>#${letter.id}</td><td><code>${eventSummary(letter.event)}</code></td><td class="num">${letter.attempts}</td><td>${formatTime(letter.enqueuedAt)}</td><td>${formatTime(letter.failedAt)}</td><td><pre>${letter.error}</pre></td>
<td>${actionButton(session, { action: actionPath("dlq/replay"), label: "Replay", fields: { id: letter.id } })}${actionButton(session, { action: actionPath("dlq/purge"), label: "Purge", kind: "danger", fields: { id: letter.id }, confirm: `Delete dead letter #${letter.id}?` })}</td></tr>`,
)}
</tbody></table>
${deadLetters.length === DEAD_LETTERS_SHOWN ? html`<p class="muted">The newest ${DEAD_LETTERS_SHOWN} are shown; <code>atoll dlq list ${name}</code> pages through the rest.</p>` : ""}`}`;

  return page(c, {
    title: name,
    session,
    nav: "scripts",
    body: html`<h1>${name}</h1>
<p><a href="${scriptPath(name, "/tail")}">Live tail</a> · <a href="${`/dashboard/search?script=${encodeURIComponent(name)}`}">Invocations</a> · <a href="${`/dashboard/usage?script=${encodeURIComponent(name)}`}">Usage</a></p>
${overview}${versionsSection}${schedulesSection}${deadLetterSection}`,
  });
}

function versionRow(
  session: Session,
  name: string,
  version: { version: number; createdAt: string; message: string | null; bundleHash: string; bundleBytes: number; bundleGzipBytes: number },
  context: { activeVersion: number; canaryVersion: number | null; activeLines: string[]; config: unknown },
): SafeHtml {
  const isActive = version.version === context.activeVersion;
  const isCanary = version.version === context.canaryVersion;
  let diffCell: SafeHtml;
  if (isActive) diffCell = html`<span class="muted">the active version</span>`;
  else if (context.config === undefined) diffCell = html`<span class="muted">config not found</span>`;
  else {
    const diff = lineDiff(context.activeLines, configLines(context.config));
    const { added, removed } = diffStats(diff);
    diffCell =
      added + removed === 0
        ? html`<span class="muted">same config</span>`
        : html`<details class="diff"><summary>v${context.activeVersion} → v${version.version}: +${added} −${removed} lines</summary><pre>${foldUnchanged(diff).map(
            (line) =>
              line.op === "fold"
                ? html`<span class="fold">  … ${line.count} unchanged line${line.count === 1 ? "" : "s"}\n</span>`
                : html`<span class="${line.op}">${line.op === "add" ? "+ " : line.op === "del" ? "- " : "  "}${line.text}\n</span>`,
          )}</pre></details>`;
  }
  return html`<tr data-version="${version.version}">
<td>v${version.version} ${isActive ? html`<span class="badge active">active</span>` : ""}${isCanary ? html`<span class="badge canary">canary</span>` : ""}</td>
<td>${formatTime(version.createdAt)}</td>
<td>${version.message ?? html`<span class="muted">—</span>`}</td>
<td class="mono" title="${`sha256 ${version.bundleHash}`}">${version.bundleHash.slice(0, 12)} · ${formatBytes(version.bundleBytes)} (${formatBytes(version.bundleGzipBytes)} gzip)</td>
<td>${diffCell}</td>
<td>${isActive ? "" : actionButton(session, { action: scriptPath(name, "/rollback"), label: `Roll back to v${version.version}`, fields: { version: version.version }, confirm: `Make v${version.version} the active version of ${name}?` })}</td>
</tr>`;
}
