// The route table alone: which script a host and path reach, and clashes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RouteTable } from "../host/front/route-table.js";

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
