// The route table alone: which script a host and path reach, and clashes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RouteTable } from "../host/front/route-table.js";
import { LinearRouteTable } from "./support/linear-route-table.js";

const table = new RouteTable(["localhost"]);
table.load([
  { script: "api", routes: ["example.test/api/*"] },
  { script: "health", routes: ["example.test/api/health"] },
  { script: "statics", routes: ["/static/*"] },
  { script: "tenants", routes: ["*.tenants.test/*"] },
  { script: "hello", routes: [] },
]);

test("the most specific route wins: exact host over any host, exact path over prefix, longer prefix first", () => {
  assert.equal(table.match("example.test", "/api/users"), "api");
  assert.equal(table.match("EXAMPLE.test:8787", "/api/users"), "api");
  assert.equal(table.match("example.test", "/api/health"), "health");
  assert.equal(table.match("example.test", "/api/health/deep"), "api");
  assert.equal(table.match("other.test", "/static/x.css"), "statics");
  assert.equal(table.match("example.test", "/static/x.css"), "statics");
});

test("a wildcard host matches subdomains at any depth, not the apex", () => {
  assert.equal(table.match("a.tenants.test", "/"), "tenants");
  assert.equal(table.match("a.b.tenants.test", "/x"), "tenants");
  assert.equal(table.match("tenants.test", "/"), undefined);
});

test("<name>.localhost reaches a deployed script; unknown names and paths reach nothing", () => {
  assert.equal(table.match("hello.localhost:8787", "/anything"), "hello");
  assert.equal(table.match("nobody.localhost", "/"), undefined);
  assert.equal(table.match("example.test", "/apiary"), undefined);
  assert.equal(table.match("[::1]:8787", "/"), undefined);
});

test("claiming a route another script owns is a conflict naming both; re-claiming your own is not", () => {
  assert.throws(() => table.checkClaim("thief", ["EXAMPLE.TEST/api/*"]), { code: "ATOLL_ROUTE_CONFLICT", message: /"api".*"thief"/ });
  assert.doesNotThrow(() => table.checkClaim("api", ["example.test/api/*"]));
  assert.doesNotThrow(() => table.checkClaim("new", ["example.test/api/v2/*"]));
});

// ---- The index: many scripts, precedence across hosts, changes ---------------

test("with ten thousand scripts every one is reached by its own routes and its <name>.localhost host", () => {
  const many = new RouteTable(["localhost"]);
  const scripts = 10_000;
  many.load(Array.from({ length: scripts }, (_, i) => ({ script: `s-${i}`, routes: [`s-${i}.example.test/*`, `/s-${i}/*`, ...(i % 100 === 0 ? [`*.t-${i}.example.test/*`] : [])] })));
  for (let i = 0; i < scripts; i += 97) {
    assert.equal(many.match(`s-${i}.example.test:8787`, "/anything"), `s-${i}`);
    assert.equal(many.match("elsewhere.test", `/s-${i}/x`), `s-${i}`);
    assert.equal(many.match(`s-${i}.localhost`, "/"), `s-${i}`);
  }
  assert.equal(many.match("deep.t-300.example.test", "/"), "s-300");
  assert.equal(many.match("s-10000.example.test", "/"), undefined);
  assert.equal(many.match("elsewhere.test", "/s-10000/x"), undefined);
});

test("an exact host beats a wildcard host, which beats any host, whatever their paths", () => {
  const hosts = new RouteTable(["localhost"]);
  hosts.load([
    { script: "anywhere", routes: ["/health"] },
    { script: "wild", routes: ["*.example.test/*", "*.example.test/health"] },
    { script: "exact", routes: ["api.example.test/v1/*"] },
  ]);
  assert.equal(hosts.match("api.example.test", "/v1/users"), "exact");
  // The exact host has no route for this path: the wildcard's turn.
  assert.equal(hosts.match("api.example.test", "/v2/users"), "wild");
  assert.equal(hosts.match("www.example.test", "/health"), "wild");
  assert.equal(hosts.match("example.test", "/health"), "anywhere");
});

test("between wildcard hosts the path decides, not the depth of the suffix; then the first loaded", () => {
  const wild = new RouteTable(["localhost"]);
  wild.load([
    { script: "shallow-long-path", routes: ["*.example.test/api/*"] },
    { script: "deep-short-path", routes: ["*.a.example.test/*"] },
    { script: "deep-exact-path", routes: ["*.b.example.test/api/health"] },
    { script: "first", routes: ["*.c.example.test/x/*"] },
    { script: "second", routes: ["*.d.c.example.test/x/*"] },
  ]);
  assert.equal(wild.match("q.a.example.test", "/api/users"), "shallow-long-path");
  assert.equal(wild.match("q.a.example.test", "/other"), "deep-short-path");
  assert.equal(wild.match("q.b.example.test", "/api/health"), "deep-exact-path");
  assert.equal(wild.match("q.d.c.example.test", "/x/1"), "first");
});

test("within a host: exact path over prefix, the longer prefix first, prefixes not bound to path segments", () => {
  const paths = new RouteTable(["localhost"]);
  paths.load([
    { script: "root", routes: ["example.test/*"] },
    { script: "api-ish", routes: ["example.test/api*"] },
    { script: "api", routes: ["example.test/api/*"] },
    { script: "users", routes: ["example.test/api/users"] },
  ]);
  assert.equal(paths.match("example.test", "/api/users"), "users");
  assert.equal(paths.match("example.test", "/api/users/1"), "api");
  assert.equal(paths.match("example.test", "/apiary"), "api-ish");
  assert.equal(paths.match("example.test", "/api"), "api-ish");
  assert.equal(paths.match("example.test", "/"), "root");
});

test("removing a script frees its routes, its name and its claims; a redeploy replaces its routes", () => {
  const changing = new RouteTable(["localhost"]);
  changing.load([
    { script: "shop", routes: ["shop.test/*", "/shop/*"] },
    { script: "blog", routes: ["blog.test/*"] },
  ]);
  changing.set("shop", ["store.test/*"]);
  assert.equal(changing.match("shop.test", "/"), undefined);
  assert.equal(changing.match("any.test", "/shop/x"), undefined);
  assert.equal(changing.match("store.test", "/cart"), "shop");
  assert.doesNotThrow(() => changing.checkClaim("thief", ["shop.test/*"]));
  assert.throws(() => changing.checkClaim("thief", ["store.test/*"]), { code: "ATOLL_ROUTE_CONFLICT" });

  assert.equal(changing.delete("shop"), true);
  assert.equal(changing.delete("shop"), false);
  assert.equal(changing.match("store.test", "/cart"), undefined);
  assert.equal(changing.match("shop.localhost", "/"), undefined);
  assert.doesNotThrow(() => changing.checkClaim("thief", ["store.test/*"]));
  assert.equal(changing.match("blog.test", "/post"), "blog");

  changing.set("new", []);
  assert.equal(changing.match("new.localhost", "/"), "new");
});

test("a redeployed script keeps its place among equally specific routes; a deleted and re-created one goes last", () => {
  const ties = new RouteTable(["localhost"]);
  ties.load([
    { script: "one", routes: ["*.a.test/x/*"] },
    { script: "two", routes: ["*.b.a.test/x/*"] },
  ]);
  assert.equal(ties.match("q.b.a.test", "/x/1"), "one");
  ties.set("one", ["*.a.test/x/*"]);
  assert.equal(ties.match("q.b.a.test", "/x/1"), "one");
  ties.delete("one");
  ties.set("one", ["*.a.test/x/*"]);
  assert.equal(ties.match("q.b.a.test", "/x/1"), "two");
});

for (const world of [
  { name: "a few scripts", scripts: 12, maxRoutes: 3, deleteShare: () => 0.25, seed: 42 },
  // Hosts fill up past the point where they are indexed by path (path-routes.ts), then empty again.
  { name: "many scripts on few hosts", scripts: 60, maxRoutes: 6, deleteShare: (step: number) => (step % 200 < 100 ? 0.1 : 0.9), seed: 7 },
]) {
  test(`the index picks what the unindexed table picked, through random loads, redeploys and deletes (${world.name})`, () => {
    const random = seeded(world.seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const domains = ["t.test", "a.t.test", "b.a.t.test", "other.test"];
    const labels = ["a", "b", "api", "www"];
    const paths = ["/", "/api", "/api/", "/api/users", "/apiary", "/x", "/x/y", "/static/app.js", "/s", "/s/1", "/s/12", "/s/123"];
    const scripts = Array.from({ length: world.scripts }, (_, i) => `s${i}`);
    const pattern = () => {
      const host = pick(["", "exact", "wildcard"]);
      const hostPart = host === "" ? "" : host === "exact" ? `${pick(labels)}.${pick(domains)}` : `*.${pick(domains)}`;
      return `${hostPart}${pick(paths)}${random() < 0.6 ? "*" : ""}`;
    };
    const routesOf = () => [...new Set(Array.from({ length: Math.floor(random() * (world.maxRoutes + 1)) }, pattern))];

    const indexed = new RouteTable(["localhost", "dev.test"]);
    const linear = new LinearRouteTable(["localhost", "dev.test"]);
    const initial = scripts.slice(0, world.scripts / 2).map((script) => ({ script, routes: routesOf() }));
    indexed.load(initial);
    for (const { script, routes } of initial) linear.set(script, routes);

    for (let step = 0; step < 400; step++) {
      const script = pick(scripts);
      if (random() < world.deleteShare(step)) {
        indexed.delete(script);
        linear.delete(script);
      } else {
        const routes = routesOf();
        indexed.set(script, routes);
        linear.set(script, routes);
      }
      for (let probe = 0; probe < 40; probe++) {
        const host = random() < 0.2 ? `${pick(scripts)}.${pick(["localhost", "dev.test"])}` : `${random() < 0.5 ? `${pick(labels)}.` : ""}${pick(labels)}.${pick(domains)}`;
        const hostHeader = random() < 0.3 ? `${host.toUpperCase()}:8787` : host;
        const path = `${pick(paths)}${random() < 0.3 ? pick(["", "1", "/deep", "s"]) : ""}`;
        assert.equal(indexed.match(hostHeader, path), linear.match(hostHeader, path), `step ${step}: ${hostHeader}${path}`);
      }
    }
  });
}

/** A small deterministic generator (mulberry32): the same cases on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
