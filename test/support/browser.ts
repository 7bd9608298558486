/**
 * Headless Chromium for end-to-end tests, with every *.localhost name mapped to
 * 127.0.0.1 (system DNS does not resolve them here). Close the browser in the
 * test's `after()`.
 */

import { chromium, type Browser } from 'playwright-core';

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
