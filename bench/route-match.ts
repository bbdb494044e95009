// `npm run bench:scale`, route matching alone: RouteTable.match over a table
// of a few scripts and over one of many, each script with an exact-host
// route, one in a hundred also with a wildcard-host and an any-host route.
import { RouteTable, type RouteOwner } from "../host/front/route-table.js";

export interface MatchTiming {
  /** What the requests look like. */
  label: string;
  /** Mean time per match, ns. */
  ns: number;
  matches: number;
}

/** Each kind of request is matched for about this long, ns. */
const BUDGET_NS = 300_000_000n;
const MIN_MATCHES = 10_000;
/** Distinct requests cycled through, so that no single string stays hot in every cache. */
const DISTINCT = 1000;

export function routeOwners(scripts: number): RouteOwner[] {
  return Array.from({ length: scripts }, (_, i) => {
    const routes = [`s-${i}.scale.test/*`];
    if (i % 100 === 0) routes.push(`*.t-${i}.scale.test/*`, `/p-${i}/*`);
    return { script: `s-${i}`, routes };
  });
}

/** Mean match time for requests reaching scripts across the table by each kind of route, and for misses. */
export function timeRouteMatch(scripts: number): MatchTiming[] {
  const table = new RouteTable(["localhost"]);
  table.load(routeOwners(scripts));
  const pick = (k: number) => Math.floor((k * 7919) % scripts);
  const withRoutes = (k: number) => Math.floor(pick(k) / 100) * 100;
  const kinds: { label: string; request: (k: number) => [string, string]; expect: (k: number) => string | undefined }[] = [
    { label: "exact host", request: (k) => [`s-${pick(k)}.scale.test:8787`, "/users/42"], expect: (k) => `s-${pick(k)}` },
    { label: "<name>.localhost", request: (k) => [`s-${pick(k)}.localhost:8787`, "/users/42"], expect: (k) => `s-${pick(k)}` },
    { label: "wildcard host", request: (k) => [`a.t-${withRoutes(k)}.scale.test`, "/users/42"], expect: (k) => `s-${withRoutes(k)}` },
    { label: "any-host prefix", request: (k) => ["elsewhere.test", `/p-${withRoutes(k)}/x`], expect: (k) => `s-${withRoutes(k)}` },
    { label: "no match", request: (k) => [`nobody-${k}.test`, "/users/42"], expect: () => undefined },
  ];
  return kinds.map(({ label, request, expect }) => {
    const requests = Array.from({ length: DISTINCT }, (_, k) => request(k));
    for (let k = 0; k < DISTINCT; k++) {
      const [host, path] = requests[k]!;
      const got = table.match(host, path);
      if (got !== expect(k)) throw new Error(`route match ${label}: ${host}${path} reached ${got}, expected ${expect(k)}`);
    }
    let sink = 0;
    let matches = 0;
    const started = process.hrtime.bigint();
    const deadline = started + BUDGET_NS;
    // Rounds of DISTINCT until the time budget is spent: a slow table must not take minutes.
    while (matches < MIN_MATCHES || process.hrtime.bigint() < deadline) {
      for (const [host, path] of requests) sink += table.match(host, path)?.length ?? 0;
      matches += DISTINCT;
    }
    const ns = Number(process.hrtime.bigint() - started) / matches;
    if (sink < 0) console.log(sink);
    return { label, ns, matches };
  });
}
