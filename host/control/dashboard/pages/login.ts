// The login page: the operator pastes the admin token; a token that matches
// (compared in constant time, as the control API compares bearer tokens)
// makes a session and its cookie, anything else is 401 with the form again.
import type { Context } from "hono";
import { DashboardLoginError } from "../../../errors.js";
import { tokenMatches } from "../../auth.js";
import { checkSameOrigin, sessionCookie, setSessionCookie, type DashboardEnv } from "../auth.js";
import { html } from "../html.js";
import { page } from "../layout.js";
import type { Sessions } from "../session.js";

export function loginPage(c: Context<DashboardEnv>, { error, status }: { error?: string; status?: number }): Response {
  return page(c, {
    title: "Log in",
    session: null,
    ...(status !== undefined ? { status } : {}),
    body: html`<section class="login">
<h1>Atoll dashboard</h1>
<p>Paste this host's admin token: the one <code>atoll login</code> takes, kept in the host's data directory (<code>.atoll/admin-token</code> by default).</p>
${error ? html`<p class="error-box" id="login-error">${error}</p>` : ""}
<form method="post" action="/dashboard/login">
  <label for="token">Admin token</label>
  <input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
  <button type="submit" class="primary">Log in</button>
</form>
</section>`,
  });
}

export async function submitLogin(c: Context<DashboardEnv>, sessions: Sessions, { token, log }: { token: string; log(line: string): void }): Promise<Response> {
  // No session yet, so no CSRF token: the Origin check alone keeps other sites from logging a browser in.
  checkSameOrigin(c);
  const form = await c.req.parseBody();
  const given = typeof form["token"] === "string" ? form["token"] : "";
  if (!tokenMatches(given, token)) {
    log("dashboard: a login was refused (not the admin token)");
    return loginPage(c, { error: new DashboardLoginError().message, status: 401 });
  }
  const previous = sessions.fromCookie(sessionCookie(c));
  if (previous) sessions.end(previous);
  const { cookie } = sessions.create();
  setSessionCookie(c, cookie);
  log("dashboard: logged in");
  return c.redirect("/dashboard/scripts", 303);
}
