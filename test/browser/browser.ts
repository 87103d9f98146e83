import { mkdirSync } from "node:fs";
import path from "node:path";
import chromium from "@sparticuz/chromium";
import {
  type Browser,
  type BrowserContext,
  type FileChooser,
  type Page,
  chromium as playwright,
} from "playwright-core";
import { afterAll, afterEach, beforeAll } from "vitest";

export const SCREENSHOTS = path.resolve(import.meta.dirname, "screenshots");

/**
 * @sparticuz/chromium's defaults are for one-shot serverless sandboxes, and some do not fit here:
 * --disable-web-security turns off CORS and the same-origin policy, exactly what these tests are
 * about, and --single-process dies with the first browser context closed. Those go; the flags that
 * keep Chromium from calling home (refused on a closed network: noise and delays) are added.
 */
const NOT_FOR_THESE_TESTS = new Set([
  "--disable-web-security",
  "--allow-running-insecure-content",
  "--disable-site-isolation-trials",
  "--single-process",
]);
const OFFLINE = [
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Headless Chromium from the project's own install (the binary inside the @sparticuz/chromium package). */
export async function launchBrowser(): Promise<Browser> {
  return playwright.launch({
    executablePath: await chromium.executablePath(),
    args: [...chromium.args.filter((arg) => !NOT_FOR_THESE_TESTS.has(arg)), ...OFFLINE],
    headless: true,
  });
}

export interface Session {
  context: BrowserContext;
  page: Page;
  /** Every request the page made, in order: `METHOD url`. */
  requests: string[];
  /** Console errors, failed requests and Content-Security-Policy violations. */
  problems: string[];
  /** Save a screenshot of the whole page as `<name>.png` under test/browser/screenshots/. */
  screenshot(name: string): Promise<void>;
}

/** A fresh browser context (its own sessionStorage and cache) with one page, watched; a 1x screen unless told. */
export async function openSession(browser: Browser, deviceScaleFactor = 1): Promise<Session> {
  const context = await browser.newContext({ viewport: { width: 900, height: 900 }, deviceScaleFactor });
  const page = await context.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on("request", (request) => {
    requests.push(`${request.method()} ${request.url()}`);
  });
  page.on("requestfailed", (request) => {
    problems.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => {
    problems.push(`page error: ${error.message}`);
  });
  // A policy violation is reported to the page as an event; forward it so no violation goes unseen.
  await page.exposeFunction("reportPolicyViolation", (text: string) => problems.push(`CSP: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      const report = (window as unknown as { reportPolicyViolation: (text: string) => void })
        .reportPolicyViolation;
      report(`${event.violatedDirective} blocked ${event.blockedURI}`);
    });
  });
  return {
    context,
    page,
    requests,
    problems,
    screenshot: async (name) => {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
  };
}

/**
 * The file chooser that `open` (a key press, a click) opens. Playwright starts intercepting file
 * choosers only once something waits for one, and turning that on is a message of its own to the
 * browser: a key pressed straight after can open the native dialog before it lands, and then no
 * event ever comes (microsoft/playwright#28023). A round trip through the page before `open` makes
 * sure it landed.
 */
export async function fileChooserOpenedBy(page: Page, open: () => Promise<void>): Promise<FileChooser> {
  const chooser = page.waitForEvent("filechooser");
  await page.evaluate(() => undefined);
  await open();
  return chooser;
}

/**
 * What a keyboard user hears they are on: the focused element's label (a wrapping `<label>` or one
 * `for` it), else its own text, leaving out what is hidden from them (`hidden`, `aria-hidden`), with
 * its white space collapsed; `""` when nothing is focused.
 */
export function focusedControl(page: Page): Promise<string> {
  return page.evaluate(() => {
    const element = document.activeElement;
    if (!(element instanceof HTMLElement) || element === document.body) return "";
    const label =
      (element instanceof HTMLInputElement ? element.labels?.[0] : undefined) ?? element.closest("label");
    const heard = (label ?? element).cloneNode(true) as HTMLElement;
    for (const unheard of heard.querySelectorAll('[hidden], [aria-hidden="true"]')) unheard.remove();
    return heard.textContent.replace(/\s+/g, " ").trim();
  });
}

export interface RequestStart {
  /** What the page asked for: `METHOD url`. */
  request: string;
  /** For each control the selector matched, in document order: was it disabled? */
  disabled: boolean[];
}

/**
 * From the next page load on, at the start of every request the page makes (`fetch` or
 * `XMLHttpRequest`, the presigned PUT), note whether each control matching `selector` was disabled.
 * Requests made while the selector matches nothing (the page still loading) are left out. Answers a
 * function that reads what was noted.
 */
export async function watchControlsAtRequests(
  page: Page,
  selector: string,
): Promise<() => Promise<RequestStart[]>> {
  await page.addInitScript((selector) => {
    const starts: { request: string; disabled: boolean[] }[] = [];
    Object.assign(window, { requestStarts: starts });
    const note = (request: string) => {
      const controls = document.querySelectorAll<HTMLButtonElement | HTMLInputElement>(selector);
      if (controls.length)
        starts.push({ request, disabled: [...controls].map((control) => control.disabled) });
    };
    const fetch = window.fetch;
    window.fetch = (input, init) => {
      const request = new Request(input, init);
      note(`${request.method} ${request.url}`);
      return fetch(input, init);
    };
    const open = XMLHttpRequest.prototype.open;
    const opened = new WeakMap<XMLHttpRequest, string>();
    XMLHttpRequest.prototype.open = function (this: XMLHttpRequest, ...args: Parameters<typeof open>) {
      opened.set(this, `${args[0]} ${args[1]}`);
      return open.apply(this, args);
    } as typeof open;
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (...args) {
      note(opened.get(this) ?? "XMLHttpRequest");
      return send.apply(this, args);
    };
  }, selector);
  return () => page.evaluate(() => (window as unknown as { requestStarts: RequestStart[] }).requestStarts);
}

/**
 * One browser for the test file, launched before its first test and closed after its last; every
 * session a test opens is closed after that test.
 */
export function browserForThisFile(): {
  open: (options?: { deviceScaleFactor?: number }) => Promise<Session>;
} {
  let browser: Browser | undefined;
  const sessions: Session[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((session) => session.context.close()));
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    open: async (options = {}) => {
      if (!browser) throw new Error("the browser is not running yet");
      const session = await openSession(browser, options.deviceScaleFactor);
      sessions.push(session);
      return session;
    },
  };
}
