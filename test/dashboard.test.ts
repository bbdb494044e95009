// The web dashboard in a real browser (Debian's chromium, through
// playwright-core) against a real host: the login refuses a wrong token and
// sets a session cookie (HttpOnly, SameSite=Strict, not the token, no use
// on /v1); the scripts page, a script's versions with config diffs, a
// canary's split, its schedules and dead letters; a request that appears in
// the live tail; rollback, replay and cancel-canary buttons, checked through
// the control API too; POSTs without the CSRF token or from another origin
// refused; search and usage; logout. A screenshot of each page is saved in a
// temporary folder (printed as a diagnostic).
import { strict as assert } from "node:assert";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { browserSkip, launchBrowser, type TestBrowser } from "./support/browser.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const skip = browserSkip();

const BUNDLE = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    console.log("served " + url.pathname + " as " + env.MARK);
    console.log('<img src="x" id="xss-probe">');
    return new Response(env.GREETING + " from " + url.pathname);
  },
  async scheduled() {
    throw new Error("the nightly job failed on purpose");
  },
};`;

const config = (greeting: string, mark: string) => ({
  routes: ["/greet/*"],
  vars: { GREETING: greeting, MARK: mark },
  triggers: { crons: ["0 3 * * *"], retries: 0 },
});

let host: TestHost;
let browser: TestBrowser;
let page: Page;
let shots: string;
let sessionCookie = "";

async function json<T>(response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`not JSON (${response.status}): ${text.slice(0, 300)}`);
  }
}

async function activeVersion(): Promise<{ active_version: number; canary: { version: number; percent: number } | null }> {
  return json(await host.control("GET", "/v1/scripts/greeter"));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Clicks a button whose form asks for confirmation, accepting the dialog, and waits for the page it leads to. */
async function clickConfirmed(selector: string): Promise<void> {
  page.once("dialog", (dialog) => void dialog.accept());
  await Promise.all([page.waitForURL(/\/dashboard\/scripts\/greeter$/), page.locator(selector).click()]);
}

/** A POST to the dashboard with plain fetch (no browser), with whatever headers a test chooses. */
function post(path: string, fields: Record<string, string>, headers: Record<string, string>): Promise<Response> {
  return fetch(`${host.controlUrl}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

describe("dashboard in a real browser", { skip }, () => {
  before(async () => {
    host = await startTestHost();
    await host.deploy("greeter", BUNDLE, config("Hello", "v1"));
    await host.deploy("greeter", BUNDLE, config("Hi", "v2"));
    // A cron run that fails with no retries left: a dead letter for the page to show.
    const queued = await host.control("POST", "/v1/scripts/greeter/invoke", { kind: "scheduled", async: true });
    assert.equal(queued.status, 202, await queued.clone().text());
    await waitFor("the failed run is dead-lettered", async () => {
      const { dead_letters } = await json<{ dead_letters: unknown[] }>(await host.control("GET", "/v1/scripts/greeter/dlq"));
      return dead_letters.length === 1 ? true : undefined;
    });
    browser = await launchBrowser();
    page = browser.page;
    shots = mkdtempSync(join(tmpdir(), "atoll-dashboard-screenshots-"));
  });

  after(async () => {
    await browser?.close();
    await host?.stop();
    host?.cleanUp();
  });

  it("refuses a wrong token on the login page, then logs in with the admin token", async (t) => {
    t.diagnostic(`screenshots: ${shots}`);
    const first = await page.goto(`${host.controlUrl}/dashboard/scripts`);
    assert.equal(new URL(page.url()).pathname, "/dashboard/login", "a page without a session leads to the login");
    assert.match(first?.headers()["content-security-policy"] ?? "", /^default-src 'self'; script-src 'nonce-[^']+'; style-src 'nonce-[^']+'/);
    await screenshot("1-login");

    await page.fill("#token", "atoll_not-the-token-at-all");
    const [refused] = await Promise.all([page.waitForResponse((response) => response.request().method() === "POST"), page.click("button[type=submit]")]);
    assert.equal(refused.status(), 401);
    assert.match(await page.locator("#login-error").textContent() ?? "", /not this host's admin token/);
    assert.deepEqual(await browser.context.cookies(`${host.controlUrl}/dashboard/`), [], "a refused login sets no cookie");

    await page.fill("#token", host.token);
    await Promise.all([page.waitForURL(/\/dashboard\/scripts$/), page.click("button[type=submit]")]);
    assert.ok(host.logs.some((line) => line.includes("dashboard: a login was refused")));
  });

  it("keeps the session in an HttpOnly, SameSite=Strict cookie that is not the token and does not open /v1", async () => {
    const cookies = await browser.context.cookies(`${host.controlUrl}/dashboard/`);
    assert.equal(cookies.length, 1, JSON.stringify(cookies));
    const [cookie] = cookies;
    assert.equal(cookie!.name, "atoll_session");
    assert.equal(cookie!.httpOnly, true);
    assert.equal(cookie!.sameSite, "Strict");
    assert.equal(cookie!.path, "/dashboard");
    assert.equal(cookie!.secure, false, "Secure only over https: this host's control port is plain http");
    assert.ok(!cookie!.value.includes(host.token) && !cookie!.value.includes(host.token.slice("atoll_".length)), "the cookie is not the token");
    sessionCookie = `${cookie!.name}=${cookie!.value}`;
    assert.equal(await page.evaluate("document.cookie"), "", "scripts in the page cannot read it");

    const withCookie = await fetch(`${host.controlUrl}/v1/scripts`, { headers: { cookie: sessionCookie } });
    assert.equal(withCookie.status, 401, "the cookie does not authenticate the JSON API");
    assert.equal((await json<{ error: { code: string } }>(withCookie)).error.code, "ATOLL_UNAUTHORIZED");
    assert.equal((await fetch(`${host.controlUrl}/dashboard/scripts`, { headers: { cookie: sessionCookie } })).status, 200, "and it opens the dashboard");
  });

  it("lists the deployed script with its routes and active version", async () => {
    const row = page.locator('#scripts tr[data-script="greeter"]');
    assert.equal(await row.count(), 1);
    const text = (await row.textContent()) ?? "";
    assert.match(text, /\/greet\/\*/);
    assert.match(text, /v2/);
    await screenshot("2-scripts");
  });

  it("shows a script's versions with config diffs, its schedules and its dead letters; replays one", async () => {
    await Promise.all([page.waitForURL(/\/dashboard\/scripts\/greeter$/), page.click('#scripts a[href="/dashboard/scripts/greeter"]')]);
    assert.equal(await page.locator("#active-version").textContent(), "v2");
    const order = await Promise.all((await page.locator("#versions tbody tr").all()).map((row) => row.getAttribute("data-version")));
    assert.deepEqual(order, ["2", "1"], "newest first");
    const diff = (await page.locator('#versions tr[data-version="1"] .diff pre').textContent()) ?? "";
    assert.match(diff, /^- {5}"GREETING": "Hi",$/m);
    assert.match(diff, /^\+ {5}"GREETING": "Hello",$/m);
    assert.match((await page.locator("#schedules").textContent()) ?? "", /0 3 \* \* \*[\s\S]*UTC[\s\S]*\d{4}-\d\d-\d\d 03:00:00Z/);
    assert.match((await page.locator("#dead-letters").textContent()) ?? "", /the nightly job failed on purpose/);
    await page.locator("#versions details.diff summary").first().click();
    await screenshot("3-script");

    await Promise.all([page.waitForURL(/\/dashboard\/scripts\/greeter$/), page.locator("#dead-letters tbody tr").first().locator("button", { hasText: "Replay" }).click()]);
    assert.match((await page.locator(".flash.ok").textContent()) ?? "", /Replayed 1 dead-lettered event/);
    assert.ok(host.logs.some((line) => /greeter: replayed 1 dead-lettered event/.test(line)), "through the same code as POST …/dlq/replay");
  });

  it("shows a request in the live tail as it happens", async () => {
    await Promise.all([page.waitForURL(/\/tail$/), page.click('a[href="/dashboard/scripts/greeter/tail"]')]);
    await page.locator('#tail-state[data-state="live"]').waitFor({ timeout: 5000 });
    const response = await host.request("greeter.localhost", "/seen-in-the-tail");
    assert.equal(await response.text(), "Hi from /seen-in-the-tail");
    const answered = Date.now();
    const row = page.locator("#tail-rows tr", { hasText: "GET /seen-in-the-tail" });
    await row.waitFor({ timeout: 3000 });
    console.log(`# the row appeared in the browser ${Date.now() - answered} ms after the response`);
    const cells = await row.locator("td").allTextContents();
    assert.equal(cells[1], "v2");
    assert.equal(cells[4], "200");
    assert.equal(cells[5], "ok");
    await row.locator("summary").click();
    assert.match((await row.locator("pre").textContent()) ?? "", /served \/seen-in-the-tail as v2/);
    assert.equal(await page.locator("#xss-probe").count(), 0, "a log line is text, never markup");
    await screenshot("4-tail");
  });

  it("rolls back with the button: the active version changes in the page and through the control API", async () => {
    await page.goto(`${host.controlUrl}/dashboard/scripts/greeter`);
    await clickConfirmed('#versions tr[data-version="1"] button');
    assert.equal(await page.locator("#active-version").textContent(), "v1");
    assert.match((await page.locator(".flash.ok").textContent()) ?? "", /Rolled back to v1 \(was v2\)/);
    assert.equal((await activeVersion()).active_version, 1);
    assert.equal(await (await host.request("greeter.localhost", "/")).text(), "Hello from /");
  });

  it("shows a canary's split and cancels it with the button", async () => {
    const upload = await host.control("PUT", "/v1/scripts/greeter", { bundle: BUNDLE, config: { name: "greeter", main: "src/index.ts", ...config("Hey", "v3") }, percent: 25 });
    assert.equal(upload.status, 201, await upload.clone().text());
    await page.reload();
    const split = (await page.locator("#canary").textContent()) ?? "";
    assert.match(split, /canary v3 serves 25% of clients/);
    assert.match(split, /v1 · 75%/);
    await screenshot("3b-script-canary");
    await clickConfirmed('#canary button:has-text("Cancel canary")');
    assert.match((await page.locator(".flash.ok").textContent()) ?? "", /Cancelled the canary v3: v1 serves every client/);
    assert.equal(await page.locator("#canary").count(), 0);
    const now = await activeVersion();
    assert.equal(now.active_version, 1);
    assert.equal(now.canary, null);
  });

  it("refuses a POST without the session's CSRF token, or from another origin (403)", async () => {
    const csrf = await page.locator('#versions input[name="csrf"]').first().inputValue();
    assert.ok(csrf.length > 20);
    const rollback = "/dashboard/scripts/greeter/rollback";
    const own = { cookie: sessionCookie, origin: host.controlUrl };

    const cases: [string, Response][] = [
      ["no CSRF token", await post(rollback, { version: "2" }, own)],
      ["a wrong CSRF token", await post(rollback, { version: "2", csrf: `${csrf.slice(0, -2)}xx` }, own)],
      ["a foreign Origin", await post(rollback, { version: "2", csrf }, { cookie: sessionCookie, origin: "http://evil.example" })],
      ["a foreign Referer and no Origin", await post(rollback, { version: "2", csrf }, { cookie: sessionCookie, referer: "http://evil.example/page" })],
      ["neither Origin nor Referer", await post(rollback, { version: "2", csrf }, { cookie: sessionCookie })],
      ["logout without a CSRF token", await post("/dashboard/logout", {}, own)],
    ];
    for (const [what, response] of cases) {
      assert.equal(response.status, 403, what);
      assert.match(await response.text(), /data-code="ATOLL_FORBIDDEN"/, what);
    }
    const noSession = await post(rollback, { version: "2", csrf }, { origin: host.controlUrl });
    assert.equal(noSession.status, 401, "no cookie, no action");
    const elsewhere = await post("/dashboard/login", { token: host.token }, { origin: "http://evil.example" });
    assert.equal(elsewhere.status, 403, "another site cannot log a browser in");
    assert.equal(elsewhere.headers.get("set-cookie"), null);
    assert.equal((await activeVersion()).active_version, 1, "nothing was rolled back");

    // The same request with the token and our origin gets through the checks (a Referer alone will do as well).
    const allowed = await post(rollback, { version: "2", csrf }, { cookie: sessionCookie, referer: `${host.controlUrl}/dashboard/scripts/greeter` });
    assert.equal(allowed.status, 303);
    assert.equal((await activeVersion()).active_version, 2);
  });

  it("searches the stored invocations with atoll logs' filters, showing log lines as text", async () => {
    await Promise.all([page.waitForURL(/\/dashboard\/search/), page.click('header nav a[href="/dashboard/search"]')]);
    await page.selectOption('#search-form select[name="script"]', "greeter");
    await page.fill('#search-form input[name="since"]', "1h");
    await page.fill('#search-form input[name="status"]', "2xx");
    await page.fill('#search-form input[name="method"]', "get");
    await page.fill('#search-form input[name="search"]', "seen-in-the-tail");
    await Promise.all([page.waitForURL(/search=seen-in-the-tail/), page.click('#search-form button[type="submit"]')]);
    const rows = page.locator("#invocations tbody tr");
    assert.equal(await rows.count(), 1);
    assert.match((await rows.first().textContent()) ?? "", /GET \/seen-in-the-tail[\s\S]*200[\s\S]*ok/);
    await rows.first().locator("summary").click();
    assert.match((await rows.first().locator("pre").textContent()) ?? "", /<img src="x" id="xss-probe">/);
    assert.equal(await page.locator("#xss-probe").count(), 0);
    await screenshot("5-search");

    await page.fill('#search-form input[name="status"]', "6xx");
    await Promise.all([page.waitForURL(/status=6xx/), page.click('#search-form button[type="submit"]')]);
    assert.match((await page.locator("#search-error").textContent()) ?? "", /status="6xx" is not a status/);
  });

  it("charts usage per script: requests, errors, wall-time percentiles and CPU", async () => {
    await Promise.all([page.waitForURL(/\/dashboard\/usage/), page.click('header nav a[href="/dashboard/usage"]')]);
    const section = page.locator('section.usage[data-script="greeter"]');
    await section.waitFor();
    const { scripts } = await json<{ scripts: { script: string; requests: number }[] }>(await host.control("GET", "/v1/usage?since=24h&script=greeter"));
    assert.equal(await section.locator('[data-total="requests"]').textContent(), String(scripts[0]!.requests), "the same figures as GET /v1/usage");
    assert.equal(await section.locator("svg.chart").count(), 4);
    assert.ok((await section.locator("svg.chart rect.bar-requests").count()) >= 1);
    assert.ok((await section.locator("svg.chart circle.dot-p99").count()) >= 1, "p99 from the stored records");
    await screenshot("6-usage");
  });

  it("logs out: the cookie is cleared, the session's open tails end, and the old cookie opens nothing", async () => {
    const tail = await fetch(`${host.controlUrl}/dashboard/scripts/greeter/tail/events`, { headers: { cookie: sessionCookie } });
    assert.equal(tail.status, 200);
    assert.match(tail.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = tail.body!.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /^event: ready\n/);
    await Promise.all([page.waitForURL(/\/dashboard\/login$/), page.click("header form.logout button")]);
    const ended = await Promise.race([
      reader.read().then(
        ({ done }) => (done ? "ended" : "more data"),
        () => "ended",
      ),
      new Promise((resolve) => setTimeout(() => resolve("still open"), 3000)),
    ]);
    assert.equal(ended, "ended", "a tail opened with the session ends with it");
    assert.deepEqual(await browser.context.cookies(`${host.controlUrl}/dashboard/`), []);
    const old = await fetch(`${host.controlUrl}/dashboard/scripts`, { headers: { cookie: sessionCookie, accept: "text/html" }, redirect: "manual" });
    assert.equal(old.status, 303);
    assert.equal(old.headers.get("location"), "/dashboard/login");
    assert.equal((await fetch(`${host.controlUrl}/dashboard/scripts/greeter/tail/events`, { headers: { cookie: sessionCookie } })).status, 401);
  });

  it("ran every page without a script error or a CSP violation", () => {
    assert.deepEqual(browser.problems, []);
  });
});
