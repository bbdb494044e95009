// A route as the route table holds it: the parsed pattern, its script, and
// where it came in the table's load order.
import type { RoutePattern } from "../config/route-pattern.js";

export interface IndexedRoute extends Omit<RoutePattern, "pattern"> {
  script: string;
  /** When the script entered the table: with `index`, breaks ties between equally specific routes (first loaded wins). */
  scriptOrder: number;
  /** The route's place in its script's list. */
  index: number;
}

/** True when `a` came first in the table's load order. */
export function loadedBefore(a: IndexedRoute, b: IndexedRoute): boolean {
  return a.scriptOrder < b.scriptOrder || (a.scriptOrder === b.scriptOrder && a.index < b.index);
}
