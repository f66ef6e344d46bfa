/**
 * The browser tests' harness: `sluice server local` (the e2e stack, real Postgres) serving the built UI, and a headless
 * Chromium (Debian's `chromium` package, installed by scripts/services.sh) driven by playwright-core.
 *
 * `useUi()` at the top of a describe starts both once for the file; `ui.page()` opens a fresh page (closed after the
 * file). The UI must be built (`npm run build`, or `cd apps/ui && npx vite build`): the server serves apps/ui/dist.
 * Without Chromium or Postgres the tests fail when SLUICE_REQUIRE_SERVICES=1 (CI), and are skipped otherwise.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startLocalStack } from '../../cli/test/e2e/stack.js';
import type { Stack } from '../../cli/test/e2e/stack.js';

export type { Page } from 'playwright-core';
export type { Stack } from '../../cli/test/e2e/stack.js';

const uiRoot = fileURLToPath(new URL('..', import.meta.url));
export const UI_DIST = join(uiRoot, 'dist');

/**
 * One attribute of every element `locator` matches, read in one go in the page. Reading them one locator at a time
 * (`all()`, then `getAttribute` on each) races a list that re-renders in between: an element gone since `all()` made
 * `getAttribute` wait for its whole timeout.
 */
export function attributeValues(locator: Locator, name: string): Promise<(string | null)[]> {
  return locator.evaluateAll((elements: { getAttribute(attribute: string): string | null }[], attribute: string) => elements.map((element) => element.getAttribute(attribute)), name);
}

/** Debian's chromium, or `SLUICE_CHROMIUM`. */
export const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';

export interface UiContext {
  readonly stack: Stack;
  readonly browser: Browser;
  /** A new page in its own browser context (fresh storage), at a 1280×800 viewport. */
  page(options?: { colorScheme?: 'light' | 'dark' }): Promise<Page>;
  /** The absolute URL of a UI path (`/flows` → `http://127.0.0.1:port/ui/flows`). */
  url(path: string): string;
}

/** The newest modification time under `dir`, in ms. */
async function newest(dir: string): Promise<number> {
  let latest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/** Throws unless apps/ui/dist holds a build; warns when the sources changed after it (the tests then test the old UI). */
async function checkBuilt(): Promise<void> {
  const index = join(UI_DIST, 'index.html');
  if (!existsSync(index)) throw new Error(`the UI is not built (${index} is missing): run "npm run build" first`);
  const sources = await newest(join(uiRoot, 'src'));
  if (statSync(index).mtimeMs < sources) console.warn('apps/ui/dist is older than apps/ui/src: these tests run the last build (npm run build, or cd apps/ui && npx vite build)');
}

export function useUi(options: { env?: Record<string, string> } = {}): UiContext {
  let stack: Stack | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const required = process.env.SLUICE_REQUIRE_SERVICES === '1';

  beforeAll(async () => {
    await checkBuilt();
    if (!existsSync(CHROMIUM)) {
      if (required) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/services.sh (it installs Debian's chromium package)`);
      return;
    }
    stack = await startLocalStack({ SLUICE_UI_DIR: UI_DIST, ...options.env });
    if (!stack) {
      if (required) throw new Error('no test Postgres: run scripts/services.sh');
      return;
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await stack?.close();
  }, 60_000);

  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not running (see the beforeAll error)`);
    return value;
  };

  return {
    get stack() {
      return need(stack, 'the Sluice stack');
    },
    get browser() {
      return need(browser, 'Chromium');
    },
    async page(pageOptions = {}) {
      const context = await need(browser, 'Chromium').newContext({
        viewport: { width: 1280, height: 800 },
        acceptDownloads: true,
        colorScheme: pageOptions.colorScheme ?? 'light',
      });
      contexts.push(context);
      context.setDefaultTimeout(15_000);
      return context.newPage();
    },
    url(path) {
      return `${need(stack, 'the Sluice stack').url}/ui${path.startsWith('/') ? path : `/${path}`}`;
    },
  };
}
