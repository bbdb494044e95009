// The routes that share one host (an exact host, a wildcard host's suffix, or
// "any host"), in precedence order: exact paths, then prefixes longest first,
// then load order. Most hosts have a route or two and are scanned; past
// LINEAR_MAX routes they are indexed by path too (./path-index.ts), so a match
// costs the same however many routes share the host.
import type { RoutePattern } from "../config/route-pattern.js";
import { loadedBefore, type IndexedRoute } from "./indexed-route.js";
import { PathIndex } from "./path-index.js";

/** More routes than this on one host are indexed by path; as few as half of it go back to a scan. */
const LINEAR_MAX = 16;

export class PathRoutes {
  private readonly sorted: IndexedRoute[] = [];
  private index: PathIndex | undefined;

  get size(): number {
    return this.sorted.length;
  }

  add(route: IndexedRoute): void {
    const at = this.sorted.findIndex((other) => precedes(route, other));
    this.sorted.splice(at === -1 ? this.sorted.length : at, 0, route);
    if (this.index) this.index.add(route);
    else if (this.sorted.length > LINEAR_MAX) this.index = new PathIndex(this.sorted);
  }

  delete(route: IndexedRoute): void {
    const at = this.sorted.indexOf(route);
    if (at === -1) return;
    this.sorted.splice(at, 1);
    this.index?.delete(route);
    if (this.sorted.length <= LINEAR_MAX / 2) this.index = undefined;
  }

  /** The routes with this pattern's path (on this host), in load order: who claims it. */
  samePattern(pattern: Pick<RoutePattern, "path" | "pathWildcard">): IndexedRoute[] {
    return this.sorted.filter((route) => route.pathWildcard === pattern.pathWildcard && route.path === pattern.path);
  }

  /** The route for exactly this path. */
  exactMatch(path: string): IndexedRoute | undefined {
    if (this.index) return this.index.exactMatch(path);
    for (const route of this.sorted) {
      if (route.pathWildcard) return undefined;
      if (route.path === path) return route;
    }
    return undefined;
  }

  /** The route with the longest prefix of `path` (the first loaded among equals). */
  prefixMatch(path: string): IndexedRoute | undefined {
    if (this.index) return this.index.prefixMatch(path);
    for (const route of this.sorted) if (route.pathWildcard && path.startsWith(route.path)) return route;
    return undefined;
  }
}

/** Exact paths before prefixes, longer prefixes first, then load order. */
function precedes(a: IndexedRoute, b: IndexedRoute): boolean {
  if (a.pathWildcard !== b.pathWildcard) return !a.pathWildcard;
  if (a.pathWildcard && a.path.length !== b.path.length) return a.path.length > b.path.length;
  return loadedBefore(a, b);
}
