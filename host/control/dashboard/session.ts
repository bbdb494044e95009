// The dashboard's sessions. Logging in with the admin token makes a session:
// a random id, kept in this host's memory, and a cookie that holds the id
// with an HMAC of it under a key drawn at random when the host starts. The
// cookie is never the token: a leaked cookie opens one session (until logout,
// expiry or a restart of the host), not the control API. Each session's CSRF
// token is an HMAC of its id too (another purpose, the same key), so it is
// checked without being stored, and differs from session to session.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SESSION_COOKIE = "atoll_session";
/** A session ends this long after the login, whatever its use, ms. */
export const SESSION_MAX_AGE_MS = 12 * 3600 * 1000;
/** …or once unused this long, ms. */
const SESSION_IDLE_MS = 2 * 3600 * 1000;
/** Sessions kept at most: a new login past this ends the one least recently used. */
const MAX_SESSIONS = 1000;

/** A message shown once, on the next page the session sees (what an action did, or why it failed). */
export interface Flash {
  kind: "ok" | "error";
  text: string;
}

export interface Session {
  readonly id: string;
  readonly createdAt: number;
  lastSeenAt: number;
  /** This session's CSRF token, for the forms of its pages. */
  readonly csrf: string;
  flash: Flash | null;
  /** What ends the session's open streams (live tails) when it ends. */
  readonly streams: Set<() => void>;
}

export class Sessions {
  /** Per host, per start: restarting the host ends every session. */
  private readonly key = randomBytes(32);
  /** By id, least recently used first. */
  private readonly sessions = new Map<string, Session>();

  /** A new session and the cookie value that names it. */
  create(now = Date.now()): { session: Session; cookie: string } {
    this.sweep(now);
    while (this.sessions.size >= MAX_SESSIONS) this.end(this.sessions.values().next().value!);
    const id = randomBytes(24).toString("base64url");
    const session: Session = { id, createdAt: now, lastSeenAt: now, csrf: this.mac("csrf", id), flash: null, streams: new Set() };
    this.sessions.set(id, session);
    return { session, cookie: `${id}.${this.mac("session", id)}` };
  }

  /** The live session a cookie value names; undefined for a missing, forged, ended or expired one. */
  fromCookie(value: string | undefined, now = Date.now()): Session | undefined {
    if (value === undefined) return undefined;
    const dot = value.indexOf(".");
    if (dot <= 0) return undefined;
    const id = value.slice(0, dot);
    // The HMAC first, in constant time: only a cookie this host made reaches the map.
    if (!sameText(value.slice(dot + 1), this.mac("session", id))) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (now - session.createdAt > SESSION_MAX_AGE_MS || now - session.lastSeenAt > SESSION_IDLE_MS) {
      this.end(session);
      return undefined;
    }
    session.lastSeenAt = now;
    // Most recently used last.
    this.sessions.delete(id);
    this.sessions.set(id, session);
    return session;
  }

  /** Logout: the session's cookie opens nothing from now on. */
  end(session: Session): void {
    this.sessions.delete(session.id);
    for (const close of session.streams) close();
    session.streams.clear();
  }

  /** True when `given` is this session's CSRF token (constant time). */
  csrfMatches(session: Session, given: string): boolean {
    return sameText(given, session.csrf);
  }

  /** Sessions alive now (tests). */
  get size(): number {
    return this.sessions.size;
  }

  private mac(purpose: "session" | "csrf", id: string): string {
    return createHmac("sha256", this.key).update(`atoll dashboard ${purpose}\n${id}`).digest("base64url");
  }

  private sweep(now: number): void {
    for (const session of [...this.sessions.values()]) {
      if (now - session.createdAt > SESSION_MAX_AGE_MS || now - session.lastSeenAt > SESSION_IDLE_MS) this.end(session);
    }
  }
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
