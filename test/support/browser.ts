// A real browser for the dashboard's tests: Debian's chromium (`.ci/run`
// installs it; no browser is ever downloaded), driven by playwright-core,
// headless, with a fresh profile in a temporary directory and everything that
// would reach out of the machine turned off. Stopped by the test that started it.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * Why the browser tests cannot run here, or undefined when they can. In CI
 * chromium must be there (`.ci/run` installs it): its absence fails the run
 * instead of skipping.
 */
export function browserSkip(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.env.CI) throw new Error(`chromium is not installed at ${CHROMIUM}, and CI must run the browser tests: .ci/run installs it with apt-get`);
  return `chromium is not installed at ${CHROMIUM} (apt-get install chromium; CI installs it)`;
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions of every page (CSP violations among them). */
  problems: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), "atoll-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      // --headless and --user-data-dir are these options (playwright refuses them as args); --no-sandbox is chromiumSandbox: false.
      headless: true,
      chromiumSandbox: false,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 900 },
      timeout: 30_000,
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      // The status of the page itself is the test's to check (a 401 login, a 400 search).
      if (message.text().startsWith("Failed to load resource: the server responded with a status of") && message.location().url === page.url()) return;
      problems.push(`console error on ${page.url()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`uncaught on ${page.url()}: ${error.message}`));
  };
  context.on("page", watch);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  page.setDefaultTimeout(10_000);
  return {
    context,
    page,
    problems,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
