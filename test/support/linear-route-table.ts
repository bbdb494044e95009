// The route table as it was before it was indexed: every route in one list,
// sorted by specificity, scanned in order. The indexed RouteTable must pick
// the same script for every request; tests compare the two.
import { parseRoutePattern, type RoutePattern } from "../../host/config/route-pattern.js";

interface Route extends RoutePattern {
  script: string;
}

export class LinearRouteTable {
  /** In load order: a Map keeps a replaced key's place, as Deployments' map of active scripts does. */
  private readonly owners = new Map<string, readonly string[]>();
  private routes: Route[] = [];

  constructor(private readonly baseDomains: readonly string[] = ["localhost"]) {}

  set(script: string, routes: readonly string[]): void {
    this.owners.set(script, routes);
    this.rebuild();
  }

  delete(script: string): void {
    this.owners.delete(script);
    this.rebuild();
  }

  match(hostHeader: string, path: string): string | undefined {
    const host = stripPort(hostHeader).toLowerCase();
    for (const route of this.routes) {
      if (route.host !== null && !(route.hostWildcard ? host.endsWith(`.${route.host}`) : host === route.host)) continue;
      if (route.pathWildcard ? path.startsWith(route.path) : path === route.path) return route.script;
    }
    for (const domain of this.baseDomains) {
      if (host.endsWith(`.${domain}`)) {
        const name = host.slice(0, -domain.length - 1);
        if (this.owners.has(name)) return name;
      }
    }
    return undefined;
  }

  private rebuild(): void {
    const routes = [...this.owners].flatMap(([script, patterns]) => patterns.map((pattern) => ({ ...parseRoutePattern(pattern).route!, script })));
    routes.sort((a, b) => rank(b) - rank(a) || b.path.length - a.path.length);
    this.routes = routes;
  }
}

function rank(route: Route): number {
  const hostRank = route.host === null ? 0 : route.hostWildcard ? 1 : 2;
  return hostRank * 2 + (route.pathWildcard ? 0 : 1);
}

function stripPort(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.lastIndexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}
