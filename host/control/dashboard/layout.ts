// The frame of every dashboard page: the Content-Security-Policy (nothing
// but this origin, and inline style and script only with the response's
// nonce), the other headers that keep the pages to themselves, the CSS, the
// navigation with its logout button, and the message an action left.
import { randomBytes } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { CSRF_FIELD, type DashboardEnv } from "./auth.js";
import { html, trusted, type HtmlValue, type SafeHtml } from "./html.js";
import type { Session } from "./session.js";

/** A fresh nonce per response, for its inline <style> and <script>. */
export function nonces(): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    c.set("nonce", randomBytes(18).toString("base64"));
    await next();
  };
}

/** default-src 'self' and nothing else: no CDN, no inline code without the nonce, no framing, forms only to us. */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Headers of every dashboard answer, pages and errors alike. */
export function securityHeaders(nonce: string): Record<string, string> {
  return {
    "content-security-policy": contentSecurityPolicy(nonce),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    // Same-origin requests keep their Referer (a fallback of the Origin check); others get none.
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
  };
}

export type NavItem = "scripts" | "search" | "usage" | null;

export interface PageOptions {
  title: string;
  body: HtmlValue;
  /** Null on the login page and on errors before a login. */
  session: Session | null;
  nav?: NavItem;
  status?: number;
  /** The page's own script (a constant of the dashboard), run with the nonce. */
  script?: string;
}

/** Answers with a whole page. The session's flash, if any, is shown once and forgotten. */
export function page(c: Context<DashboardEnv>, options: PageOptions): Response {
  const nonce = c.get("nonce");
  const { session } = options;
  const flash = session?.flash ?? null;
  if (session) session.flash = null;
  const link = (item: Exclude<NavItem, null>, href: string, label: string) => html`<a href="${href}"${options.nav === item ? trusted(' aria-current="page"') : ""}>${label}</a>`;
  const document = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>${options.title} · Atoll</title>
<style nonce="${nonce}">${trusted(CSS)}</style>
</head>
<body>
<header>
  <a class="brand" href="/dashboard/scripts">Atoll</a>
  ${session
    ? html`<nav>${link("scripts", "/dashboard/scripts", "Scripts")}${link("search", "/dashboard/search", "Invocations")}${link("usage", "/dashboard/usage", "Usage")}</nav>
  <form method="post" action="/dashboard/logout" class="logout"><input type="hidden" name="${CSRF_FIELD}" value="${session.csrf}"><button type="submit">Log out</button></form>`
    : ""}
</header>
<main>
${flash ? html`<p class="flash ${flash.kind}" role="status">${flash.text}</p>` : ""}
${options.body}
</main>
<script nonce="${nonce}">${trusted(COMMON_SCRIPT)}${options.script ? trusted(options.script) : ""}</script>
</body>
</html>
`;
  return c.html(document.text, (options.status ?? 200) as 200, securityHeaders(nonce));
}

/** The hidden CSRF field of a session's forms. */
export function csrfInput(session: Session): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${session.csrf}">`;
}

/** A one-button POST form of the dashboard (an action), with the CSRF token and optional fields and confirmation. */
export function actionButton(session: Session, options: { action: string; label: string; fields?: Record<string, string | number>; confirm?: string; kind?: "danger" | "primary" }): SafeHtml {
  const fields = Object.entries(options.fields ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${String(value)}">`);
  return html`<form method="post" action="${options.action}" class="inline"${options.confirm ? html` data-confirm="${options.confirm}"` : ""}>${csrfInput(session)}${fields}<button type="submit"${options.kind ? html` class="${options.kind}"` : ""}>${options.label}</button></form>`;
}

/** Forms with data-confirm ask first (rollbacks, purges). Listeners, not inline handlers: the CSP allows no inline event attributes. */
const COMMON_SCRIPT = `
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) event.preventDefault();
});
`;

const CSS = `
:root { color-scheme: light; --fg: #1d2329; --muted: #5f6b76; --line: #d9dee3; --bg: #f6f7f9; --card: #fff; --accent: #0a6ebd; --ok: #1b7f3b; --bad: #b3261e; --canary: #c77700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #16202a; color: #fff; }
header a { color: #cfe3f5; text-decoration: none; }
header a[aria-current="page"] { color: #fff; font-weight: 600; border-bottom: 2px solid #fff; }
header nav { display: flex; gap: 18px; flex: 1; }
.brand { font-weight: 700; font-size: 16px; color: #fff; }
.logout button { background: transparent; color: #cfe3f5; border: 1px solid #4a5b6b; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 4px 0 12px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
section, .card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { margin: 4px 0; padding: 8px; background: #f1f3f5; border-radius: 4px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
a { color: var(--accent); }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; background: #e8edf2; }
.badge.active { background: #dcf1e3; color: var(--ok); }
.badge.canary { background: #fcebd2; color: var(--canary); }
.flash { padding: 8px 12px; border-radius: 4px; }
.flash.ok { background: #dcf1e3; color: #124d26; }
.flash.error { background: #fbe1df; color: #7d1a14; }
.error-box { background: #fbe1df; color: #7d1a14; padding: 8px 12px; border-radius: 4px; white-space: pre-wrap; }
form.inline { display: inline; margin: 0 4px 0 0; }
button { font: inherit; padding: 3px 10px; border-radius: 4px; border: 1px solid #9aa7b3; background: #fff; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { border-color: var(--bad); color: var(--bad); }
input, select { font: inherit; padding: 3px 6px; border: 1px solid #9aa7b3; border-radius: 4px; }
form.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
.diff .add { color: var(--ok); background: #e9f7ee; }
.diff .del { color: var(--bad); background: #fdeeed; }
.diff .same { color: #4a545e; }
.diff .fold { color: var(--muted); font-style: italic; }
tr.bad td { background: #fdf3f2; }
.split { display: flex; align-items: center; gap: 12px; }
.login { max-width: 440px; margin: 60px auto; }
.login input[type=password] { width: 100%; margin: 8px 0; }
svg.chart { background: var(--card); border: 1px solid var(--line); border-radius: 4px; }
svg .axis { stroke: #b8c1ca; stroke-width: 1; }
svg text { fill: var(--muted); font-size: 11px; font-family: system-ui, sans-serif; }
svg .bar-requests { fill: #4f8fd0; }
svg .bar-errors { fill: #d0584f; }
svg .bar-cpu { fill: #7a5fc0; }
svg .line-p50 { stroke: #2f9a57; fill: none; stroke-width: 1.5; }
svg .line-p99 { stroke: #c77700; fill: none; stroke-width: 1.5; }
svg .dot-p50 { fill: #2f9a57; }
svg .dot-p99 { fill: #c77700; }
svg .split-active { fill: #4f8fd0; }
svg .split-canary { fill: #e39a2e; }
svg .split-label { fill: #fff; font-size: 12px; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 12px; }
.legend span { margin-right: 12px; }
.legend .p50 { color: #2f9a57; } .legend .p99 { color: #c77700; }
#tail-state[data-state=live] { color: var(--ok); font-weight: 600; }
#tail-state[data-state=down] { color: var(--bad); }
`;
