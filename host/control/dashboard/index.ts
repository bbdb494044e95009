// The dashboard: server-rendered pages on the control API's own port, under
// /dashboard, opened with the admin token through a login page (./auth.ts,
// ./session.ts). Mounted by ../app.ts; every page and action reads and
// changes the host through the same objects and functions as the control
// API's routes (Deployments, the queue, the observer and its store, the cron
// scheduler), so the two never disagree.
//
//   GET  /dashboard/login                 the login form           POST /dashboard/login   token → session cookie
//   POST /dashboard/logout
//   GET  /dashboard/scripts               every script
//   GET  /dashboard/scripts/:name         versions with config diffs, canary split, schedules, dead letters
//   POST /dashboard/scripts/:name/rollback | promote | cancel-canary | dlq/replay | dlq/purge
//   GET  /dashboard/scripts/:name/tail    live tail page; …/tail/events: its server-sent events
//   GET  /dashboard/search                stored invocation records, with atoll logs' filters
//   GET  /dashboard/usage                 usage charts per script
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { PriceTable } from "../../config/host-config.js";
import type { ScriptConfig } from "../../config/script-config.js";
import { BadRequestError } from "../../errors.js";
import type { Deployments } from "../../front/deployments.js";
import type { Observer } from "../../observe/observer.js";
import type { Store } from "../../store/store.js";
import type { Triggers } from "../../triggers/index.js";
import { clearSessionCookie, requireCsrf, requireSession, sessionCookie, type DashboardEnv } from "./auth.js";
import { errorPage, notFoundPage } from "./pages/error.js";
import { loginPage, submitLogin } from "./pages/login.js";
import { scriptsPage } from "./pages/scripts.js";
import { scriptPage } from "./pages/script.js";
import { registerScriptActions } from "./pages/actions.js";
import { tailEvents, tailPage } from "./pages/tail.js";
import { searchPage } from "./pages/search.js";
import { usagePage } from "./pages/usage.js";
import { nonces } from "./layout.js";
import { Sessions } from "./session.js";

/** What the dashboard reads and changes: a subset of the control API's own options. */
export interface DashboardOptions {
  /** The admin token: the login takes it. */
  token: string;
  store: Store;
  deployments: Deployments;
  triggers: Triggers;
  observer: Observer;
  /** The price table of the host config; null: the usage page shows no cost. */
  billing: PriceTable | null;
  urlsFor(config: ScriptConfig): string[];
  log(line: string): void;
}

/** Forms are small: a token, a version, an id. */
const MAX_FORM_BYTES = 16 * 1024;

export function dashboardRoutes(options: DashboardOptions): Hono<DashboardEnv> {
  const sessions = new Sessions();
  const app = new Hono<DashboardEnv>();

  app.onError((error, c) => errorPage(c, error, options.log));
  app.use("*", nonces());
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_FORM_BYTES,
      onError: () => {
        throw new BadRequestError(`a dashboard form is at most ${MAX_FORM_BYTES} bytes`);
      },
    }),
  );

  // The only pages without a session.
  app.get("/login", (c) => (sessions.fromCookie(sessionCookie(c)) ? c.redirect("/dashboard/scripts", 303) : loginPage(c, {})));
  app.post("/login", (c) => submitLogin(c, sessions, options));

  app.use("*", requireSession(sessions));
  app.use("*", requireCsrf(sessions));

  app.get("/", (c) => c.redirect("/dashboard/scripts", 303));
  app.post("/logout", (c) => {
    sessions.end(c.get("session"));
    clearSessionCookie(c);
    return c.redirect("/dashboard/login", 303);
  });
  app.get("/scripts", (c) => scriptsPage(c, options));
  app.get("/scripts/:name", (c) => scriptPage(c, options, c.req.param("name")));
  registerScriptActions(app, options);
  app.get("/scripts/:name/tail", (c) => tailPage(c, options, c.req.param("name")));
  app.get("/scripts/:name/tail/events", (c) => tailEvents(c, options, c.req.param("name")));
  app.get("/search", (c) => searchPage(c, options));
  app.get("/usage", (c) => usagePage(c, options));
  app.all("*", (c) => (c.req.path === "/dashboard/" ? c.redirect("/dashboard/scripts", 303) : notFoundPage(c)));

  return app;
}
