// Which script answers a request: the routes of every active version
// ("example.test/api/*", "/static/*"), then <name>.localhost style hosts.
//
// The most specific route wins: exact host > wildcard host > any host; within
// each, exact path > path prefix, and the longer prefix first; between routes
// equally specific, the one loaded first. Routes are indexed by host (exact
// hosts, wildcard hosts by suffix, any host) and then by path
// (./path-routes.ts), so a match costs the same with ten scripts or ten
// thousand, and a deploy updates only its own script's routes.
import { parseRoutePattern, type RoutePattern } from "../config/route-pattern.js";
import { RouteConflictError } from "../errors.js";
import { loadedBefore, type IndexedRoute } from "./indexed-route.js";
import { PathRoutes } from "./path-routes.js";

export interface RouteOwner {
  script: string;
  routes: readonly string[];
}

interface ScriptEntry {
  /** Kept across redeploys: a script's routes keep their place among equals, as in a Map. */
  order: number;
  routes: IndexedRoute[];
}

export class RouteTable {
  private readonly exactHosts = new Map<string, PathRoutes>();
  /** `*.example.test/…` routes, under "example.test". */
  private readonly wildcardHosts = new Map<string, PathRoutes>();
  private anyHost = new PathRoutes();
  /** Every script in the table, routes or not (`<script>.<domain>` reaches it). */
  private readonly scripts = new Map<string, ScriptEntry>();
  private nextOrder = 0;

  /** @param baseDomains hosts under which `<script>.<domain>` reaches a script. */
  constructor(private readonly baseDomains: readonly string[] = ["localhost"]) {}

  /** Replaces the whole table; among equally specific routes, earlier owners win. */
  load(owners: readonly RouteOwner[]): void {
    const parsed = owners.map(({ script, routes }, order) => ({ script, order, routes: parseRoutes(script, routes, order) }));
    for (const map of [this.exactHosts, this.wildcardHosts, this.scripts]) map.clear();
    this.anyHost = new PathRoutes();
    this.nextOrder = parsed.length;
    for (const { script, order, routes } of parsed) {
      const repeated = this.scripts.get(script);
      if (repeated) this.unindex(repeated.routes);
      this.insert(script, order, routes);
    }
  }

  /**
   * Adds a script or replaces its routes. A script already in the table keeps
   * its place among equally specific routes; a new one comes after the rest.
   */
  set(script: string, routes: readonly string[]): void {
    const existing = this.scripts.get(script);
    const order = existing?.order ?? this.nextOrder;
    const parsed = parseRoutes(script, routes, order);
    if (existing) this.unindex(existing.routes);
    else this.nextOrder++;
    this.insert(script, order, parsed);
  }

  /** False when the script was not in the table. */
  delete(script: string): boolean {
    const existing = this.scripts.get(script);
    if (!existing) return false;
    this.unindex(existing.routes);
    this.scripts.delete(script);
    return true;
  }

  /** Throws RouteConflictError when another script already claims one of `routes`. */
  checkClaim(script: string, routes: readonly string[]): void {
    for (const pattern of routes) {
      const wanted = parseRoute(pattern, script, 0, 0);
      const owner = this.hostRoutes(wanted, false)?.samePattern(wanted).find((route) => route.script !== script);
      if (owner) throw new RouteConflictError(pattern, owner.script, script);
    }
  }

  /** The script for a request, or undefined. `host` may carry a port. */
  match(hostHeader: string, path: string): string | undefined {
    const host = stripPort(hostHeader).toLowerCase();
    const exactHost = this.exactHosts.get(host);
    const route =
      (exactHost && (exactHost.exactMatch(path) ?? exactHost.prefixMatch(path))) ??
      (this.wildcardHosts.size > 0 ? this.matchWildcard(host, path) : undefined) ??
      (this.anyHost.size > 0 ? (this.anyHost.exactMatch(path) ?? this.anyHost.prefixMatch(path)) : undefined);
    if (route) return route.script;
    for (const domain of this.baseDomains) {
      if (host.endsWith(`.${domain}`)) {
        const name = host.slice(0, -domain.length - 1);
        if (this.scripts.has(name)) return name;
      }
    }
    return undefined;
  }

  /** Wildcard routes of every suffix of `host`: any exact path first, then the longest prefix (first loaded among equals). */
  private matchWildcard(host: string, path: string): IndexedRoute | undefined {
    let exact: IndexedRoute | undefined;
    let prefix: IndexedRoute | undefined;
    for (let dot = host.indexOf("."); dot !== -1; dot = host.indexOf(".", dot + 1)) {
      const routes = this.wildcardHosts.get(host.slice(dot + 1));
      if (!routes) continue;
      const exactHit = routes.exactMatch(path);
      if (exactHit && (!exact || loadedBefore(exactHit, exact))) exact = exactHit;
      if (exact) continue;
      const prefixHit = routes.prefixMatch(path);
      if (prefixHit && (!prefix || prefixHit.path.length > prefix.path.length || (prefixHit.path.length === prefix.path.length && loadedBefore(prefixHit, prefix)))) {
        prefix = prefixHit;
      }
    }
    return exact ?? prefix;
  }

  private insert(script: string, order: number, routes: IndexedRoute[]): void {
    this.scripts.set(script, { order, routes });
    for (const route of routes) this.hostRoutes(route, true)!.add(route);
  }

  private unindex(routes: readonly IndexedRoute[]): void {
    for (const route of routes) {
      const hostRoutes = this.hostRoutes(route, false);
      hostRoutes?.delete(route);
      if (hostRoutes && hostRoutes !== this.anyHost && hostRoutes.size === 0) (route.hostWildcard ? this.wildcardHosts : this.exactHosts).delete(route.host!);
    }
  }

  private hostRoutes(route: Pick<RoutePattern, "host" | "hostWildcard">, create: boolean): PathRoutes | undefined {
    if (route.host === null) return this.anyHost;
    const map = route.hostWildcard ? this.wildcardHosts : this.exactHosts;
    let routes = map.get(route.host);
    if (!routes && create) {
      routes = new PathRoutes();
      map.set(route.host, routes);
    }
    return routes;
  }
}

function parseRoutes(script: string, patterns: readonly string[], order: number): IndexedRoute[] {
  return patterns.map((pattern, index) => parseRoute(pattern, script, order, index));
}

/** Patterns reach the table from validated configs; one that does not parse is a bug upstream. */
function parseRoute(pattern: string, script: string, scriptOrder: number, index: number): IndexedRoute {
  const { route, problem } = parseRoutePattern(pattern);
  if (!route) throw new Error(`route ${JSON.stringify(pattern)} of ${script} ${problem}`);
  return { host: route.host, hostWildcard: route.hostWildcard, path: route.path, pathWildcard: route.pathWildcard, script, scriptOrder, index };
}

function stripPort(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.lastIndexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}
