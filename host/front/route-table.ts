// Which script answers a request: the routes of every active version
// ("example.test/api/*", "/static/*"), then <name>.localhost style hosts.
import { parseRoutePattern, type RoutePattern } from "../config/route-pattern.js";
import { RouteConflictError } from "../errors.js";

interface Route extends RoutePattern {
  script: string;
}

export interface RouteOwner {
  script: string;
  routes: readonly string[];
}

export class RouteTable {
  private routes: Route[] = [];
  private scripts = new Set<string>();

  /** @param baseDomains hosts under which `<script>.<domain>` reaches a script. */
  constructor(private readonly baseDomains: readonly string[] = ["localhost"]) {}

  /** Replaces the whole table; the most specific route wins a match. */
  load(owners: readonly RouteOwner[]): void {
    const routes = owners.flatMap(({ script, routes }) => routes.map((pattern) => parseRoute(pattern, script)));
    routes.sort(bySpecificity);
    this.routes = routes;
    this.scripts = new Set(owners.map((owner) => owner.script));
  }

  /** Throws RouteConflictError when another script already claims one of `routes`. */
  checkClaim(script: string, routes: readonly string[]): void {
    for (const pattern of routes) {
      const wanted = parseRoute(pattern, script).pattern;
      const owner = this.routes.find((route) => route.script !== script && route.pattern === wanted);
      if (owner) throw new RouteConflictError(pattern, owner.script, script);
    }
  }

  /** The script for a request, or undefined. `host` may carry a port. */
  match(hostHeader: string, path: string): string | undefined {
    const host = stripPort(hostHeader).toLowerCase();
    for (const route of this.routes) {
      if (route.host !== null && !(route.hostWildcard ? host.endsWith(`.${route.host}`) : host === route.host)) continue;
      if (route.pathWildcard ? path.startsWith(route.path) : path === route.path) return route.script;
    }
    for (const domain of this.baseDomains) {
      if (host.endsWith(`.${domain}`)) {
        const name = host.slice(0, -domain.length - 1);
        if (this.scripts.has(name)) return name;
      }
    }
    return undefined;
  }
}

/** Patterns reach the table from validated configs; one that does not parse is a bug upstream. */
function parseRoute(pattern: string, script: string): Route {
  const parsed = parseRoutePattern(pattern);
  if (!parsed.route) throw new Error(`route ${JSON.stringify(pattern)} of ${script} ${parsed.problem}`);
  return { ...parsed.route, script };
}

function bySpecificity(a: Route, b: Route): number {
  return rank(b) - rank(a) || b.path.length - a.path.length;
}

/** Exact host > wildcard host > any host; then exact path > prefix. */
function rank(route: Route): number {
  const hostRank = route.host === null ? 0 : route.hostWildcard ? 1 : 2;
  return hostRank * 2 + (route.pathWildcard ? 0 : 1);
}

function stripPort(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.lastIndexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}
