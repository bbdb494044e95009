// Many routes of one host by path: exact paths in one map, prefixes in another
// that is probed once per distinct prefix length (longest first), so a match
// costs a few lookups however many routes there are.
import { loadedBefore, type IndexedRoute } from "./indexed-route.js";

export class PathIndex {
  /** Each list is in load order, its first entry the one that matches; a list holds more than one route only when scripts share a pattern. */
  private readonly exact = new Map<string, IndexedRoute[]>();
  private readonly prefixes = new Map<string, IndexedRoute[]>();
  /** How many keys of `prefixes` have each length; `lengths` lists them longest first. */
  private readonly prefixLengths = new Map<number, number>();
  private lengths: number[] = [];

  constructor(routes: Iterable<IndexedRoute>) {
    for (const route of routes) this.add(route);
  }

  add(route: IndexedRoute): void {
    if (!route.pathWildcard) {
      insertInOrder(this.exact, route);
      return;
    }
    if (insertInOrder(this.prefixes, route)) {
      const keys = this.prefixLengths.get(route.path.length) ?? 0;
      this.prefixLengths.set(route.path.length, keys + 1);
      if (keys === 0) this.lengths = [...this.prefixLengths.keys()].sort((a, b) => b - a);
    }
  }

  delete(route: IndexedRoute): void {
    if (!route.pathWildcard) {
      removeFrom(this.exact, route);
      return;
    }
    if (removeFrom(this.prefixes, route)) {
      const keys = this.prefixLengths.get(route.path.length)! - 1;
      if (keys > 0) this.prefixLengths.set(route.path.length, keys);
      else {
        this.prefixLengths.delete(route.path.length);
        this.lengths = this.lengths.filter((length) => length !== route.path.length);
      }
    }
  }

  exactMatch(path: string): IndexedRoute | undefined {
    return this.exact.get(path)?.[0];
  }

  prefixMatch(path: string): IndexedRoute | undefined {
    for (const length of this.lengths) {
      if (length > path.length) continue;
      const routes = this.prefixes.get(length === path.length ? path : path.slice(0, length));
      if (routes) return routes[0];
    }
    return undefined;
  }
}

/** True when the route's path is a new key. */
function insertInOrder(map: Map<string, IndexedRoute[]>, route: IndexedRoute): boolean {
  const routes = map.get(route.path);
  if (!routes) {
    map.set(route.path, [route]);
    return true;
  }
  const at = routes.findIndex((other) => loadedBefore(route, other));
  routes.splice(at === -1 ? routes.length : at, 0, route);
  return false;
}

/** True when the route's path is no longer a key. */
function removeFrom(map: Map<string, IndexedRoute[]>, route: IndexedRoute): boolean {
  const routes = map.get(route.path);
  const at = routes?.indexOf(route) ?? -1;
  if (at === -1) return false;
  routes!.splice(at, 1);
  if (routes!.length > 0) return false;
  map.delete(route.path);
  return true;
}
