/**
 * A real Chromium for the tests of pages: Debian's, driven by playwright-core (which cannot
 * download a browser here), with the flags that keep a headless run quiet and offline. Every
 * page it opens records its console errors and uncaught exceptions; a test asserts there were
 * none, so a page that throws or fails a request fails its test.
 */
import type { TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { chromiumPath } from '#test/infra.ts';

export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** Launches Chromium, closed after the test. */
export async function launchChromium(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs });
  t.after(() => browser.close());
  return browser;
}

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught exceptions so far, each with the page's URL at the time. */
  problems: string[];
}

/** A new page in its own context (its own storage), its errors recorded. */
export async function watchedPage(browser: Browser, opts: { viewport?: { width: number; height: number } } = {}): Promise<WatchedPage & { context: BrowserContext }> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error at ${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught at ${page.url()}: ${e.message}`));
  return { page, problems, context };
}
