// The dashboard's gate: the session cookie (set at login, cleared at logout),
// the session every page but the login needs, and the two checks every
// state-changing request (a POST) must pass: it comes from the dashboard's own
// origin (Origin, or Referer when a browser sent no Origin), and it carries
// the session's CSRF token. GETs never change anything, so they need neither.
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { CrossOriginRequestError, CsrfTokenError, DashboardSessionError } from "../../errors.js";
import { SESSION_COOKIE, SESSION_MAX_AGE_MS, type Session, type Sessions } from "./session.js";

export type DashboardEnv = { Variables: { session: Session; nonce: string } };

/** The form field (or header, for scripts) that carries the CSRF token. */
export const CSRF_FIELD = "csrf";
export const CSRF_HEADER = "x-atoll-csrf";

/** Where the cookie is sent: the dashboard's pages only, never /v1 (which takes the bearer token alone). */
const COOKIE_PATH = "/dashboard";

/** True when the request reached us over https, directly or through a proxy that says so. */
export function cameOverHttps(c: Context): boolean {
  if (new URL(c.req.url).protocol === "https:") return true;
  return c.req.header("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase() === "https";
}

/** The origin the dashboard's own pages have, as the browser sees it: scheme and Host. */
export function ownOrigin(c: Context): string {
  const host = c.req.header("host") ?? new URL(c.req.url).host;
  return `${cameOverHttps(c) ? "https" : "http"}://${host.toLowerCase()}`;
}

export function setSessionCookie(c: Context, value: string): void {
  setCookie(c, SESSION_COOKIE, value, {
    httpOnly: true,
    sameSite: "Strict",
    path: COOKIE_PATH,
    // Secure only over https: on the plain-http loopback port a Secure cookie would never come back.
    secure: cameOverHttps(c),
    maxAge: Math.floor(SESSION_MAX_AGE_MS / 1000),
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: COOKIE_PATH, httpOnly: true, sameSite: "Strict", secure: cameOverHttps(c) });
}

export function sessionCookie(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

/**
 * Throws CrossOriginRequestError unless the request says it comes from our own
 * origin: its Origin header, or without one its Referer's origin. A request
 * with neither is refused too (every browser sends Origin on a form's POST).
 */
export function checkSameOrigin(c: Context): void {
  const expected = ownOrigin(c);
  const origin = c.req.header("origin");
  if (origin !== undefined) {
    if (origin.toLowerCase() !== expected) throw new CrossOriginRequestError(origin, expected);
    return;
  }
  const referer = c.req.header("referer");
  if (referer === undefined) throw new CrossOriginRequestError(null, expected);
  let refererOrigin: string;
  try {
    refererOrigin = new URL(referer).origin.toLowerCase();
  } catch {
    throw new CrossOriginRequestError(referer, expected);
  }
  if (refererOrigin !== expected) throw new CrossOriginRequestError(referer, expected);
}

/**
 * Every page and action after the login's: the session the cookie names, or
 * (for a page) a redirect to the login, (for anything else) 401.
 */
export function requireSession(sessions: Sessions): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    const session = sessions.fromCookie(sessionCookie(c));
    if (!session) {
      const isPage = c.req.method === "GET" && !c.req.path.endsWith("/events") && (c.req.header("accept") ?? "text/html").includes("text/html");
      if (isPage) return c.redirect("/dashboard/login", 303);
      throw new DashboardSessionError();
    }
    c.set("session", session);
    await next();
  };
}

/** A POST must come from our own pages and carry the session's CSRF token (form field `csrf`, or the x-atoll-csrf header). */
export function requireCsrf(sessions: Sessions): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      checkSameOrigin(c);
      let given = c.req.header(CSRF_HEADER);
      if (given === undefined) {
        const type = c.req.header("content-type") ?? "";
        if (type.startsWith("application/x-www-form-urlencoded") || type.startsWith("multipart/form-data")) {
          const field = (await c.req.parseBody())[CSRF_FIELD];
          if (typeof field === "string") given = field;
        }
      }
      if (given === undefined || given === "") throw new CsrfTokenError(true);
      if (!sessions.csrfMatches(c.get("session"), given)) throw new CsrfTokenError(false);
    }
    await next();
  };
}
