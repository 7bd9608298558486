/**
 * Sign-in without a browser: follow a flow through Limen and the development
 * IdP with plain HTTP requests, as a browser would navigate it. Redirects are
 * followed (relative Locations resolved), the dev IdP's login form is filled in
 * and submitted, and self-submitting forms (OAuth form_post, logout
 * confirmation) are submitted. Cookies live in a `CookieJar`.
 */

import { LOGIN_FORM_ID } from '../../src/devidp/index.js';
import { CookieJar } from './cookie-jar.js';
import { parseForms, type HtmlForm } from './html-form.js';
import { request, type TestResponse } from './http.js';

export interface FlowStep {
  method: string;
  /** Origin and path only: queries carry codes and state, which stay out of logs. */
  url: string;
  status: number;
}

export interface FlowResult {
  /** The first response that is neither a redirect nor a form this helper submits. */
  response: TestResponse;
  /** Where that response came from. */
  url: string;
  jar: CookieJar;
  steps: FlowStep[];
  /** Whether the dev IdP's login form was submitted (false when an IdP session already existed). */
  loginSubmitted: boolean;
}

export interface FlowOptions {
  jar?: CookieJar;
  /** Fill the dev IdP login form with these when it appears. */
  login?: { email: string; groups?: string[] | string };
  /** Extra request headers for every step (an `Accept` here replaces the browser-like default). */
  headers?: Record<string, string>;
  /** Stop with an error after this many requests; default 25. */
  maxSteps?: number;
  /** TLS trust for https test servers. */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /** Called before each request of the flow (to break something at a chosen step). */
  beforeRequest?: (url: URL) => Promise<void> | void;
}

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const REDIRECT = new Set([301, 302, 303, 307, 308]);
const AUTOSUBMIT_SCRIPT = /document\.forms\[0\]\.submit\(\)/;

/**
 * Signs `email` in: GET `startUrl` (a protected Limen URL, or an IdP
 * authorization URL), follow redirects to the dev IdP, submit its login form,
 * and follow the callbacks back. Returns the final response and the jar.
 */
export async function scriptedLogin(
  startUrl: string | URL,
  email: string,
  opts: Omit<FlowOptions, 'login'> & { groups?: string[] | string } = {},
): Promise<FlowResult> {
  const { groups, ...rest } = opts;
  return followFlow(startUrl, { ...rest, login: { email, ...(groups !== undefined ? { groups } : {}) } });
}

/** Follows a sign-out (Limen's `/.pomerium/sign_out` or the IdP's end-session URL) to its end. */
export async function scriptedLogout(startUrl: string | URL, opts: Omit<FlowOptions, 'login'> = {}): Promise<FlowResult> {
  return followFlow(startUrl, opts);
}

/** The engine behind `scriptedLogin` and `scriptedLogout`. */
export async function followFlow(startUrl: string | URL, opts: FlowOptions = {}): Promise<FlowResult> {
  const jar = opts.jar ?? new CookieJar();
  const maxSteps = opts.maxSteps ?? 25;
  const steps: FlowStep[] = [];
  let loginSubmitted = false;
  let next: { method: string; url: URL; body?: string } = { method: 'GET', url: new URL(startUrl) };

  for (;;) {
    if (steps.length >= maxSteps) {
      throw new Error(`followFlow: no end after ${maxSteps} requests: ${steps.map(describe).join(' -> ')}`);
    }
    const headers: Record<string, string> = { accept: BROWSER_ACCEPT, ...lowerKeys(opts.headers ?? {}) };
    if (next.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    await opts.beforeRequest?.(next.url);
    const response = await request(next.url, {
      method: next.method,
      headers,
      ...(next.body !== undefined ? { body: next.body } : {}),
      jar,
      ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
    });
    steps.push({ method: next.method, url: `${next.url.origin}${next.url.pathname}`, status: response.status });
    const here = next.url;

    const location = response.header('location');
    if (REDIRECT.has(response.status) && location !== undefined) {
      const keepMethod = response.status === 307 || response.status === 308;
      next = {
        method: keepMethod ? next.method : 'GET',
        url: new URL(location, here),
        ...(keepMethod && next.body !== undefined ? { body: next.body } : {}),
      };
      continue;
    }

    const isHtml = (response.header('content-type') ?? '').includes('text/html');
    const forms = isHtml && response.status === 200 ? parseForms(response.text()) : [];
    const loginForm = forms.find((f) => f.id === LOGIN_FORM_ID);
    if (loginForm !== undefined && opts.login !== undefined && !loginSubmitted) {
      loginSubmitted = true;
      const groups = Array.isArray(opts.login.groups) ? opts.login.groups.join(',') : (opts.login.groups ?? '');
      next = submission(loginForm, here, { email: opts.login.email, groups });
      continue;
    }
    const autoForm = forms.length === 1 ? forms[0] : undefined;
    if (autoForm !== undefined && ('data-autosubmit' in autoForm.attributes || AUTOSUBMIT_SCRIPT.test(response.text()))) {
      next = submission(autoForm, here, {});
      continue;
    }
    return { response, url: here.href, jar, steps, loginSubmitted };
  }
}

function submission(form: HtmlForm, base: URL, overrides: Record<string, string>): { method: string; url: URL; body?: string } {
  const params = new URLSearchParams();
  const seen = new Set<string>();
  for (const [name, value] of form.fields) {
    if (name in overrides) {
      if (seen.has(name)) continue;
      seen.add(name);
      params.append(name, overrides[name] ?? '');
    } else {
      params.append(name, value);
    }
  }
  for (const [name, value] of Object.entries(overrides)) if (!seen.has(name)) params.append(name, value);
  const url = new URL(form.action === '' ? base.href : form.action, base);
  if (form.method === 'GET') {
    url.search = params.toString();
    return { method: 'GET', url };
  }
  return { method: 'POST', url, body: params.toString() };
}

function describe(step: FlowStep): string {
  return `${step.method} ${step.url} ${step.status}`;
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
