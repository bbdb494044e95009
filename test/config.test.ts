// atoll.toml: what the schema accepts, how it normalises, and how it reports
// every problem at once with its key and the file it came from.
import { strict as assert } from "node:assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parse as parseToml } from "smol-toml";
import { DEFAULT_BUILD, DEFAULT_LIMITS, DEFAULT_TRIGGERS } from "../host/config/defaults.js";
import { parseRoutePattern } from "../host/config/route-pattern.js";
import { isValidScriptName, loadScriptConfigFile, parseScriptConfig, SCRIPT_NAME_PATTERN, type ScriptConfig } from "../host/config/script-config.js";
import { BadConfigError } from "../host/errors.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The problems parseScriptConfig reports for `toml`, or fails when it accepts it. */
function problemsOf(toml: string, source = "atoll.toml"): string[] {
  try {
    parseScriptConfig(parseToml(toml), source);
  } catch (error) {
    assert.ok(error instanceof BadConfigError, `expected BadConfigError, got ${String(error)}`);
    assert.equal(error.code, "ATOLL_BAD_CONFIG");
    assert.equal(error.status, 400);
    return error.problems;
  }
  assert.fail(`config was accepted:\n${toml}`);
}

function parse(toml: string): ScriptConfig {
  return parseScriptConfig(parseToml(toml), "atoll.toml");
}

const MINIMAL = 'name = "hello"\nmain = "src/index.ts"\n';

describe("good configs", () => {
  it("fills in every default for a minimal config", () => {
    assert.deepEqual(parse(MINIMAL), {
      name: "hello",
      main: "src/index.ts",
      routes: [],
      vars: {},
      kv_namespaces: [],
      buckets: [],
      limits: { ...DEFAULT_LIMITS },
      triggers: { ...DEFAULT_TRIGGERS, crons: [], storage: [] },
      build: { ...DEFAULT_BUILD, rules: [], define: {} },
    });
  });

  it("keeps every key of a full config and normalises routes", () => {
    const config = parse(`
      name = "api-2"
      main = "./src/worker.ts"
      compatibility_date = "2025-03-01"
      routes = ["API.Example.TEST/v1/*", "/static/*", "*.Example.test/*", "example.test/health"]

      [vars]
      GREETING = "Hello"
      RETRIES = 3
      RATIO = 0.5
      BETA = true
      _private = "x"
      REGIONS = ["eu", "us"]
      NESTED = { a = { b = [1, { c = "d" }] } }

      [[kv_namespaces]]
      binding = "CACHE"
      id = "cache"

      [[buckets]]
      binding = "UPLOADS"
      bucket_name = "uploads"

      [limits]
      cpu_ms = 10
      memory_mb = 8
      wall_ms = 10
      subrequests = 0

      [build]
      minify = true
      define = { "process.env.NODE_ENV" = '"production"', DEBUG = "false", FLAG = "globalThis.flag" }
    `);
    assert.deepEqual(config, {
      name: "api-2",
      main: "./src/worker.ts",
      compatibility_date: "2025-03-01",
      routes: ["api.example.test/v1/*", "/static/*", "*.example.test/*", "example.test/health"],
      vars: { GREETING: "Hello", RETRIES: 3, RATIO: 0.5, BETA: true, _private: "x", REGIONS: ["eu", "us"], NESTED: { a: { b: [1, { c: "d" }] } } },
      limits: { cpu_ms: 10, memory_mb: 8, wall_ms: 10, subrequests: 0, request_body_mb: 100, response_body_mb: 5120 },
      kv_namespaces: [{ binding: "CACHE", id: "cache" }],
      buckets: [{ binding: "UPLOADS", bucket_name: "uploads" }],
      triggers: { ...DEFAULT_TRIGGERS, crons: [], storage: [] },
      build: { rules: [], minify: true, define: { "process.env.NODE_ENV": '"production"', DEBUG: "false", FLAG: "globalThis.flag" } },
    });
  });

  it("accepts an unquoted TOML date as compatibility_date", () => {
    assert.equal(parse(`${MINIMAL}compatibility_date = 2024-09-23\n`).compatibility_date, "2024-09-23");
  });

  it("keeps defaults for the limits a table leaves out", () => {
    assert.deepEqual(parse(`${MINIMAL}[limits]\ncpu_ms = 100\n`).limits, { ...DEFAULT_LIMITS, cpu_ms: 100 });
  });

  it("survives a JSON round trip unchanged (the host re-validates uploads)", () => {
    const config = parse(`${MINIMAL}routes = ["Example.test/*"]\n[vars]\nA = { b = [1, true, "c"] }\n`);
    assert.deepEqual(parseScriptConfig(JSON.parse(JSON.stringify(config)), "the uploaded config"), config);
  });

  it("documents every key with its default in wrangler-like.toml.example", async () => {
    const config = await loadScriptConfigFile(join(repoRoot, "wrangler-like.toml.example"));
    assert.deepEqual(config.limits, DEFAULT_LIMITS);
    assert.equal(config.build.minify, DEFAULT_BUILD.minify);
    const { crons, storage, ...triggerDefaults } = config.triggers;
    assert.deepEqual(triggerDefaults, DEFAULT_TRIGGERS);
    assert.deepEqual(crons, []);
    assert.deepEqual(storage, []);
  });
});

describe("bindings", () => {
  it("reports a bad binding name, a bad id and an unknown key with a suggestion", () => {
    assert.deepEqual(problemsOf(`${MINIMAL}[[kv_namespaces]]\nbinding = "my-cache"\nid = "Cache!"\n[[buckets]]\nbinding = "B"\nbucket = "b"\n`), [
      "`kv_namespaces[0].binding` must be a JavaScript identifier (letters, digits, _; not starting with a digit), e.g. CACHE in atoll.toml (got \"my-cache\")",
      "`kv_namespaces[0].id` must be lower-case letters, digits, - and _ (up to 63, starting with a letter or digit) in atoll.toml (got \"Cache!\")",
      "`buckets[0].bucket_name` is required in atoll.toml",
      "unknown key `buckets[0].bucket` in atoll.toml (did you mean `buckets[0].bucket_name`?)",
    ]);
  });

  it("refuses two bindings with one name", () => {
    assert.deepEqual(problemsOf(`${MINIMAL}[vars]\nX = "1"\n[[kv_namespaces]]\nbinding = "X"\nid = "x"\n[[buckets]]\nbinding = "X"\nbucket_name = "x"\n`), [
      "`kv_namespaces[0].binding` binds env.X, which `vars.X` binds already in atoll.toml: give one of them another name",
      "`buckets[0].binding` binds env.X, which `vars.X` binds already in atoll.toml: give one of them another name",
    ]);
  });
});

describe("triggers", () => {
  it("accepts cron schedules (with a seconds field, names, nicknames), a time zone and storage triggers", () => {
    const config = parse(`${MINIMAL}
      [triggers]
      crons = ["*/5 * * * *", "*/10  * * * * *", "0 3 * * MON-FRI", "@daily"]
      timezone = "europe/paris"
      retries = 0
      max_event_age_s = 60
      max_chain_depth = 2

      [[triggers.storage]]
      bucket = "uploads"
      events = ["put", "put"]
      prefix = "images/"
      suffix = ".png"

      [[triggers.storage]]
      bucket = "logs"
    `);
    assert.deepEqual(config.triggers, {
      crons: ["*/5 * * * *", "*/10 * * * * *", "0 3 * * MON-FRI", "@daily"],
      timezone: "Europe/Paris",
      retries: 0,
      max_event_age_s: 60,
      max_chain_depth: 2,
      storage: [
        { bucket: "uploads", events: ["put"], prefix: "images/", suffix: ".png" },
        { bucket: "logs", events: ["put", "delete"], prefix: "", suffix: "" },
      ],
    });
  });

  it("reports a bad cron expression, one that never fires, a repeat and an unknown time zone, each by key", () => {
    assert.deepEqual(problemsOf(`${MINIMAL}[triggers]\ncrons = ["61 * * * *", "* * *", "0 0 30 2 *", "*/5 * * * *", "*/5 * * * *", 5]\ntimezone = "Mars/Olympus"\n`), [
      "`triggers.crons[5]` must be a cron expression string such as \"*/5 * * * *\" in atoll.toml (got 5)",
    ]);
    assert.deepEqual(problemsOf(`${MINIMAL}[triggers]\ncrons = ["61 * * * *", "* * *", "0 0 30 2 *", "*/5 * * * *", "*/5 * * * *"]\ntimezone = "Europe/Pariss"\n`), [
      '`triggers.timezone` is not a time zone in atoll.toml (got "Europe/Pariss"): use an IANA name such as "UTC" or "Europe/Paris" (did you mean "Europe/Paris"?)',
      '`triggers.crons[0]` is not a cron expression in atoll.toml (got "61 * * * *"): invalid value for minute: 61 (write five fields: minute hour day-of-month month day-of-week, six with a seconds field first, or @hourly, @daily …)',
      "`triggers.crons[1]` is not a cron expression in atoll.toml (got \"* * *\"): invalid configuration format ('* * *'), exactly five or six space separated parts are required. (write five fields: minute hour day-of-month month day-of-week, six with a seconds field first, or @hourly, @daily …)",
      '`triggers.crons[2]` never fires (no date matches it) in atoll.toml (got "0 0 30 2 *"): check the day and month fields',
      '`triggers.crons[4]` repeats `triggers.crons[3]` in atoll.toml (got "*/5 * * * *")',
    ]);
  });

  it("reports bad numbers, bad storage triggers and unknown keys with a suggestion", () => {
    assert.deepEqual(
      problemsOf(`${MINIMAL}[triggers]\ncron = ["* * * * *"]\nretries = 11\nmax_event_age_s = 0\nmax_chain_depth = 1.5\n[[triggers.storage]]\nbucket_name = "up"\nevents = ["create"]\n`),
      [
        "`triggers.retries` must be an integer from 0 to 10 in atoll.toml (got 11)",
        "`triggers.max_event_age_s` must be a whole number of seconds from 1 to 604800 in atoll.toml (got 0)",
        "`triggers.max_chain_depth` must be an integer from 1 to 16 in atoll.toml (got 1.5)",
        "`triggers.storage[0].bucket` is required in atoll.toml",
        "`triggers.storage[0].events[0]` must be \"put\" or \"delete\" in atoll.toml (got \"create\")",
        "unknown key `triggers.storage[0].bucket_name` in atoll.toml (did you mean `triggers.storage[0].bucket`?)",
        "unknown key `triggers.cron` in atoll.toml (did you mean `triggers.crons`?)",
      ],
    );
  });
});

describe("script names", () => {
  it("allows 1 to 63 characters of a-z, 0-9 and '-'", () => {
    for (const name of ["a", "hello", "hono-app", "0-9", "a".repeat(63)]) assert.ok(isValidScriptName(name), name);
    for (const name of ["", "Hello", "a_b", "a.b", "a/b", "a b", "a".repeat(64), "é"]) assert.ok(!isValidScriptName(name), name);
    assert.ok(!isValidScriptName(42));
    assert.equal(SCRIPT_NAME_PATTERN.source, "^[a-z0-9-]{1,63}$");
  });

  it("reports a bad name with the rule", () => {
    assert.deepEqual(problemsOf('name = "My_App"\nmain = "x.ts"'), ["`name` must be 1 to 63 characters of a-z, 0-9 and '-' in atoll.toml (got \"My_App\")"]);
  });
});

describe("bad values", () => {
  const cases: Array<[string, string, string]> = [
    ["missing name", 'main = "x.ts"', "`name` is required in atoll.toml"],
    ["missing main", 'name = "x"', "`main` is required in atoll.toml"],
    ["name of the wrong type", 'name = 5\nmain = "x.ts"', "`name` must be a string in atoll.toml (got 5)"],
    ["empty main", 'name = "x"\nmain = ""', "`main` must not be empty in atoll.toml"],
    ["absolute main", 'name = "x"\nmain = "/srv/x.ts"', '`main` must be a relative path, such as "src/index.ts" in atoll.toml (got "/srv/x.ts")'],
    ["impossible date", `${MINIMAL}compatibility_date = "2024-02-30"`, "`compatibility_date` must be a date written YYYY-MM-DD in atoll.toml"],
    ["date in another format", `${MINIMAL}compatibility_date = "01/02/2024"`, "`compatibility_date` must be a date written YYYY-MM-DD"],
    ["negative cpu_ms", `${MINIMAL}[limits]\ncpu_ms = -5`, "`limits.cpu_ms` must be a positive integer (milliseconds) in atoll.toml (got -5)"],
    ["zero cpu_ms", `${MINIMAL}[limits]\ncpu_ms = 0`, "`limits.cpu_ms` must be a positive integer"],
    ["fractional wall_ms", `${MINIMAL}[limits]\nwall_ms = 1.5`, "`limits.wall_ms` must be a positive integer (milliseconds) in atoll.toml (got 1.5)"],
    ["string memory_mb", `${MINIMAL}[limits]\nmemory_mb = "128"`, '`limits.memory_mb` must be an integer of at least 8 (megabytes) in atoll.toml (got "128")'],
    ["tiny memory_mb", `${MINIMAL}[limits]\nmemory_mb = 4`, "`limits.memory_mb` must be an integer of at least 8"],
    ["negative subrequests", `${MINIMAL}[limits]\nsubrequests = -1`, "`limits.subrequests` must be a non-negative integer in atoll.toml (got -1)"],
    ["cpu_ms over wall_ms", `${MINIMAL}[limits]\ncpu_ms = 40000`, "`limits.cpu_ms` must not exceed `limits.wall_ms` (30000) in atoll.toml (got 40000)"],
    ["limits not a table", `${MINIMAL}limits = 5`, "`limits` must be a table in atoll.toml (got 5)"],
    ["minify not a boolean", `${MINIMAL}[build]\nminify = "yes"`, '`build.minify` must be true or false in atoll.toml (got "yes")'],
    ["define value not a string", `${MINIMAL}[build.define]\nDEBUG = true`, "`build.define.DEBUG` must be a string holding a JavaScript expression"],
    ["define value not an expression", `${MINIMAL}[build.define]\nMODE = "production mode"`, '`build.define.MODE` must be JSON'],
    ["define name not an identifier", `${MINIMAL}[build.define]\n"my-flag" = "true"`, "`build.define.my-flag` is not a name esbuild can replace"],
    ["vars not a table", `${MINIMAL}vars = ["a"]`, "`vars` must be a table in atoll.toml (got an array)"],
    ["var name with a dash", `${MINIMAL}[vars]\nMY-VAR = "x"`, "`vars.MY-VAR` is not a valid variable name in atoll.toml: use letters, digits and `_`, not starting with a digit"],
    ["var name with a leading digit", `${MINIMAL}[vars]\n1ST = "x"`, "`vars.1ST` is not a valid variable name"],
    ["var holding a date", `${MINIMAL}[vars]\nSINCE = 2024-01-01`, "`vars.SINCE` is a TOML date, which scripts cannot receive in atoll.toml (got a date): quote it as a string"],
    ["var holding nan", `${MINIMAL}[vars]\nX = nan`, "`vars.X` must be a finite number"],
    ["nested date in a var", `${MINIMAL}[vars]\nX = { list = [1, 2024-01-01] }`, "`vars.X.list[1]` is a TOML date"],
    ["routes not an array", `${MINIMAL}routes = "example.test/*"`, '`routes` must be an array of route patterns such as ["example.test/*"] in atoll.toml (got "example.test/*")'],
    ["route not a string", `${MINIMAL}routes = [1]`, "`routes[0]` must be a route pattern string"],
  ];
  for (const [what, toml, expected] of cases) {
    it(`reports ${what}`, () => {
      const problems = problemsOf(toml);
      assert.ok(
        problems.some((problem) => problem.startsWith(expected)),
        `no problem starts with ${JSON.stringify(expected)}; got:\n  ${problems.join("\n  ")}`,
      );
    });
  }

  it("rejects null and NaN in uploaded JSON configs too", () => {
    assert.throws(
      () => parseScriptConfig({ name: "x", main: "x.ts", vars: { A: [1, null], B: Number.NaN } }, "the uploaded config"),
      (error: unknown) =>
        error instanceof BadConfigError &&
        error.problems.includes("`vars.A[1]` must be a string, number, boolean, array or table in the uploaded config (got null)") &&
        error.problems.some((problem) => problem.startsWith("`vars.B` must be a finite number")),
    );
  });

  it("refuses vars over 1 MiB as JSON, saying where large data belongs", () => {
    const big = "x".repeat(600 * 1024);
    assert.throws(
      () => parseScriptConfig({ name: "x", main: "x.ts", vars: { A: big, B: { nested: [big] } } }, "the uploaded config"),
      (error: unknown) =>
        error instanceof BadConfigError &&
        error.problems.length === 1 &&
        /^`vars` holds \d+ bytes as JSON, over the limit of 1048576 \(env is copied into every isolate of the script\) in the uploaded config: keep large data in KV or a bucket$/.test(error.problems[0]!),
    );
    assert.equal(parseScriptConfig({ name: "x", main: "x.ts", vars: { A: big } }, "the uploaded config").vars["A"], big);
  });

  it("says the whole config must be a table", () => {
    for (const value of [null, "name = x", 3, []]) {
      assert.throws(
        () => parseScriptConfig(value, "the uploaded config"),
        (error: unknown) => error instanceof BadConfigError && /^the config must be a table .* in the uploaded config/.test(error.problems[0] ?? ""),
      );
    }
  });
});

describe("routes", () => {
  const good: Array<[string, string]> = [
    ["example.test/*", "example.test/*"],
    ["Example.TEST/API/*", "example.test/API/*"],
    ["/static/*", "/static/*"],
    ["/", "/"],
    ["*.example.test/*", "*.example.test/*"],
    ["api.example.test/v1", "api.example.test/v1"],
    ["/prefix*", "/prefix*"],
    ["127.0.0.1/x", "127.0.0.1/x"],
  ];
  for (const [pattern, normalised] of good) {
    it(`accepts ${pattern}`, () => assert.deepEqual(parse(`${MINIMAL}routes = ${JSON.stringify([pattern])}`).routes, [normalised]));
  }

  const bad: Array<[string, string]> = [
    ["", "must not be empty"],
    ["example.test", 'must include a path in atoll.toml (got "example.test"): write "example.test/*" for every path of that host'],
    ["https://example.test/*", 'must not include a scheme in atoll.toml (got "https://example.test/*"): write "example.test/*"'],
    ["example.test:8080/*", "must not include a port"],
    ["/a/*/b", "may contain `*` only as its last character"],
    ["*example.test/*", "may contain `*` only as its last character"],
    ["example.*/x", "may contain `*` only as its last character"],
    ["/search?q=*", "must not contain a query"],
    ["/a b", "must not contain whitespace"],
    ["exa mple.test/", "must not contain whitespace"],
    ["ex!ample.test/*", "has an invalid host"],
    ["example..test/*", "has an invalid host"],
    ["*./x", "has an invalid host"],
  ];
  for (const [pattern, expected] of bad) {
    it(`rejects ${JSON.stringify(pattern)}`, () => {
      const problems = problemsOf(`${MINIMAL}routes = ["/ok/*", ${JSON.stringify(pattern)}]`);
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.ok(problems[0]!.startsWith(`\`routes[1]\` ${expected}`), problems[0]);
    });
  }

  it("rejects a route listed twice (after normalising)", () => {
    assert.deepEqual(problemsOf(`${MINIMAL}routes = ["example.test/*", "/x", "EXAMPLE.test/*"]`), [
      '`routes[2]` repeats `routes[0]` ("example.test/*") in atoll.toml (got "EXAMPLE.test/*")',
    ]);
  });

  it("parses a pattern into host and path parts", () => {
    assert.deepEqual(parseRoutePattern("*.Example.test/api/*").route, {
      pattern: "*.example.test/api/*",
      host: "example.test",
      hostWildcard: true,
      path: "/api/",
      pathWildcard: true,
    });
    assert.deepEqual(parseRoutePattern("/health").route, { pattern: "/health", host: null, hostWildcard: false, path: "/health", pathWildcard: false });
  });
});

describe("unknown keys", () => {
  it("suggests the key that was meant", () => {
    assert.deepEqual(problemsOf(`${MINIMAL}rouets = []`), ["unknown key `rouets` in atoll.toml (did you mean `routes`?)"]);
    assert.deepEqual(problemsOf(`${MINIMAL}route = []`), ["unknown key `route` in atoll.toml (did you mean `routes`?)"]);
    assert.deepEqual(problemsOf(`${MINIMAL}[limits]\ncpu = 5`), ["unknown key `limits.cpu` in atoll.toml (did you mean `limits.cpu_ms`?)"]);
    assert.deepEqual(problemsOf(`${MINIMAL}[limits]\nmemory = 5`), ["unknown key `limits.memory` in atoll.toml (did you mean `limits.memory_mb`?)"]);
    assert.deepEqual(problemsOf(`${MINIMAL}[build]\nminfy = true`), ["unknown key `build.minfy` in atoll.toml (did you mean `build.minify`?)"]);
    assert.deepEqual(problemsOf(`${MINIMAL}[var]\nA = 1`), ["unknown key `var` in atoll.toml (did you mean `vars`?)"]);
  });

  it("suggests nothing when no key is close", () => {
    assert.deepEqual(problemsOf(`${MINIMAL}durable_objects = []`), ["unknown key `durable_objects` in atoll.toml"]);
  });

  it("explains why build.external is refused", () => {
    assert.deepEqual(problemsOf(`${MINIMAL}[build]\nexternal = ["hono"]`), [
      "`build.external` is not supported in atoll.toml: an Atoll bundle must be self-contained, so every import is bundled",
    ]);
  });

  it("takes [[services]] and explains why a named entrypoint is refused", () => {
    assert.deepEqual(parse(`${MINIMAL}[[services]]\nbinding = "AUTH"\nservice = "auth"`).services, [{ binding: "AUTH", service: "auth" }]);
    assert.deepEqual(problemsOf(`${MINIMAL}[[services]]\nbinding = "AUTH"\nservice = "auth"\nentrypoint = "Rpc"`), [
      "`services[0].entrypoint` is not supported in atoll.toml: named entrypoints (WorkerEntrypoint classes and RPC) are not supported: a service binding calls the script's default fetch handler",
    ]);
    assert.deepEqual(problemsOf(`${MINIMAL}[vars]\nAUTH = 1\n[[services]]\nbinding = "AUTH"\nservice = "Auth Service"`), [
      "`services[0].service` must be a script name in atoll.toml (got \"Auth Service\"): 1 to 63 characters of a-z, 0-9 and '-'",
    ]);
  });

  it("does not look inside vars, whose keys are the user's", () => {
    assert.deepEqual(parse(`${MINIMAL}[vars]\nrouets = 1`).vars, { rouets: 1 });
  });
});

describe("reporting", () => {
  it("reports every problem at once, each with its key and source", () => {
    const problems = problemsOf(
      `
      name = "Bad Name"
      rouets = ["/x"]
      routes = ["nohost", "/ok/*"]
      [vars]
      "bad-name" = 1
      [limits]
      cpu_ms = -5
      memory = 3
      [build]
      minify = 1
      external = []
    `,
      "fixtures/x/atoll.toml",
    );
    const expected = [
      "`name` must be 1 to 63 characters",
      "`main` is required",
      "`routes[0]` must include a path",
      "`vars.bad-name` is not a valid variable name",
      "`limits.cpu_ms` must be a positive integer",
      "unknown key `limits.memory` in fixtures/x/atoll.toml (did you mean `limits.memory_mb`?)",
      "`build.minify` must be true or false",
      "`build.external` is not supported",
      "unknown key `rouets` in fixtures/x/atoll.toml (did you mean `routes`?)",
    ];
    for (const start of expected) assert.ok(problems.some((problem) => problem.startsWith(start)), `missing ${start}:\n  ${problems.join("\n  ")}`);
    assert.equal(problems.length, expected.length, problems.join("\n"));
    for (const problem of problems) assert.ok(problem.includes(" in fixtures/x/atoll.toml"), problem);
  });

  it("puts every problem in the error's message, one a line", () => {
    try {
      parseScriptConfig({ name: "X", main: 1 }, "atoll.toml");
      assert.fail("accepted");
    } catch (error) {
      assert.ok(error instanceof BadConfigError);
      assert.deepEqual(error.toJSON().error.problems, error.problems);
      assert.equal(error.message, `invalid config:\n  ${error.problems.join("\n  ")}`);
      assert.equal(error.problems.length, 2);
    }
  });
});

describe("loadScriptConfigFile", () => {
  async function withFile(text: string, test: (path: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), "atoll-config-"));
    try {
      const path = join(dir, "atoll.toml");
      await writeFile(path, text);
      await test(path);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("reads and validates a file, naming it in problems", async () => {
    await withFile(`${MINIMAL}[limits]\ncpu_ms = 0\n`, async (path) => {
      await assert.rejects(loadScriptConfigFile(path), (error: unknown) => error instanceof BadConfigError && error.problems[0] === `\`limits.cpu_ms\` must be a positive integer (milliseconds) in ${path} (got 0)`);
    });
    await withFile(MINIMAL, async (path) => assert.equal((await loadScriptConfigFile(path)).name, "hello"));
  });

  it("reports TOML syntax errors with file, line and column", async () => {
    await withFile('name = "hello"\nmain = \n', async (path) => {
      await assert.rejects(loadScriptConfigFile(path), (error: unknown) => {
        assert.ok(error instanceof BadConfigError);
        assert.match(error.problems[0]!, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2:8: TOML syntax error: `));
        assert.match(error.problems[0]!, /2: {2}main = /);
        return true;
      });
    });
  });

  it("says where it looked when the file is missing", async () => {
    await assert.rejects(loadScriptConfigFile("/nonexistent/atoll.toml"), (error: unknown) => error instanceof BadConfigError && error.problems[0]!.startsWith("no config file at /nonexistent/atoll.toml"));
  });
});
