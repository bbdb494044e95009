// Which side of a gradual deploy a request lands on. The choice is a hash of
// the client's key and the canary's version, so one client keeps landing on
// the same side for as long as the canary lives, a new canary draws a fresh
// sample of clients, and raising the percent only adds clients to the canary.
import type { IncomingHttpHeaders } from "node:http";
import { fnv1a } from "../hash.js";

/** A client that sends this header is placed by it rather than by its address (a user or session id, say). */
export const CLIENT_KEY_HEADER = "x-atoll-client-key";

/** The key a request is placed by: the `x-atoll-client-key` header if present, else the client's address. */
export function clientKeyOf(headers: IncomingHttpHeaders, remoteAddress: string | undefined): string {
  const header = headers[CLIENT_KEY_HEADER];
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && value !== "" ? `k:${value}` : `a:${remoteAddress ?? ""}`;
}

/** True when a client with this key goes to the canary `version` serving `percent` % of clients. */
export function takesCanary(clientKey: string, canary: { version: number; percent: number }): boolean {
  return canaryPosition(clientKey, canary.version) < canary.percent;
}

/** Where a client falls on [0, 100) for a canary version: a stable, evenly spread hash. */
export function canaryPosition(clientKey: string, version: number): number {
  return (mix(fnv1a(`${version}\0${clientKey}`)) / 0x1_0000_0000) * 100;
}


/** MurmurHash3's finaliser: FNV-1a alone spreads similar short keys ("user-1", "user-2") unevenly. */
function mix(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
