// Error pages: an AtollError with its status and message (a bad filter, an
// unknown script, a refused action: 401, 403, 404 …), anything else as 500
// with the details in the host's log only.
import type { Context } from "hono";
import { AtollError, NotFoundError } from "../../../errors.js";
import type { DashboardEnv } from "../auth.js";
import { html } from "../html.js";
import { page } from "../layout.js";

export function errorPage(c: Context<DashboardEnv>, error: Error, log: (line: string) => void): Response {
  const session = c.get("session") ?? null;
  if (error instanceof AtollError) {
    return page(c, {
      title: `Error ${error.status}`,
      session,
      status: error.status,
      body: html`<h1>${error.status === 403 ? "Refused" : error.status === 401 ? "Not logged in" : error.status === 404 ? "Not found" : "Error"}</h1>
<p class="error-box" data-code="${error.code}">${error.message}</p>
<p><a href="${session ? "/dashboard/scripts" : "/dashboard/login"}">${session ? "Back to the scripts" : "Log in"}</a></p>`,
    });
  }
  log(`dashboard error: ${error.stack ?? error.message}`);
  return page(c, { title: "Error 500", session, status: 500, body: html`<h1>Internal error</h1><p class="error-box">internal error; see the host's log</p>` });
}

export function notFoundPage(c: Context<DashboardEnv>): Response {
  return errorPage(c, new NotFoundError(`dashboard page ${c.req.path}`), () => {});
}
