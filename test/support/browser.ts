/**
 * Headless Chromium for end-to-end tests, with every *.localhost name mapped to
 * 127.0.0.1 (system DNS does not resolve them here). Close the browser in the
 * test's `after()`.
 */

import { chromium, type Browser, type Page } from 'playwright-core';

/** The Chromium the CI image installs (`apt-get install chromium`). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Launches headless Chromium; `extraArgs` are appended to the defaults. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--host-resolver-rules=MAP *.localhost 127.0.0.1',
      ...extraArgs,
    ],
  });
}

/**
 * Saves a screenshot of the page (an artifact for people, not an
 * assertion). Chromium under load sometimes answers a capture with
 * "Unable to capture screenshot" while it composites; that one error is
 * tried again, up to three times, once the page has painted another frame.
 */
export async function screenshot(page: Page, path: string, fullPage = true): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.screenshot({ path, fullPage });
      return;
    } catch (e) {
      if (attempt >= 3 || !/Unable to capture screenshot/.test((e as Error).message)) throw e;
      // Written as text: this code runs in the page, and the project's TypeScript has no DOM types.
      await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => resolve(undefined)))');
    }
  }
}
