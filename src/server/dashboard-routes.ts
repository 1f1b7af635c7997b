import { randomBytes } from 'node:crypto';
import { renderDashboard } from '../dashboard/dashboard-page.js';
import { type DashboardSource, readDashboard } from '../dashboard/dashboard-view.js';
import { type DashboardSessions, sessionCookie } from './dashboard-sessions.js';
import type { HttpReply, Route } from './http-server.js';

/**
 * The dashboard's routes. `GET /` is an admin route like any other (bearer token or session
 * cookie); `GET /login` trades a one-time token for a session; the page's actions are the
 * admin API itself. `POST /admin/dashboard/login` is what `psnb2b-sync dashboard` calls.
 */

export interface DashboardDeps extends DashboardSource {
  sessions: DashboardSessions;
  /** Where a browser reaches this daemon: `server.publicUrl`, else the address it listens on. */
  baseUrl: () => string;
  /** Cookies get `Secure` when the dashboard is served over https. */
  secureCookies: boolean;
}

function pageHeaders(nonce: string): Record<string, string> {
  return {
    'content-security-policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "connect-src 'self'",
      "form-action 'self'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  };
}

const loginFailed: HttpReply = {
  status: 401,
  html: '<!doctype html><title>psnb2b-sync</title><p>This login link is used or expired. Run <code>psnb2b-sync dashboard</code> again for a new one.</p>',
};

export function dashboardRoutes(deps: DashboardDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/',
      admin: true,
      page: true,
      handle: (req): HttpReply => {
        const nonce = randomBytes(16).toString('base64');
        const csrf = deps.sessions.fromCookie(req.headers.cookie)?.csrf ?? '';
        return {
          status: 200,
          html: renderDashboard(
            readDashboard(deps, {
              page: Number(req.query.get('page') ?? 1),
              filter: (req.query.get('q') ?? '').trim().slice(0, 100),
            }),
            { csrf, nonce },
          ),
          headers: pageHeaders(nonce),
        };
      },
    },
    {
      method: 'GET',
      path: '/login',
      page: true,
      handle: (req): HttpReply => {
        const started = deps.sessions.redeem(req.query.get('token') ?? '');
        if (!started) return loginFailed;
        // The redirect drops the token from the address bar and from the browser's history entry.
        return {
          status: 303,
          html: '',
          headers: { location: '/', 'set-cookie': sessionCookie(started.id, deps.secureCookies) },
        };
      },
    },
    {
      method: 'POST',
      path: '/admin/logout',
      admin: true,
      handle: (req): HttpReply => {
        deps.sessions.end(req.headers.cookie);
        return {
          status: 200,
          json: { message: 'logged out' },
          headers: { 'set-cookie': sessionCookie(null, deps.secureCookies) },
        };
      },
    },
    {
      method: 'POST',
      path: '/admin/dashboard/login',
      admin: true,
      handle: (): HttpReply => {
        const { token, expiresAt } = deps.sessions.issueLogin();
        const url = new URL('/login', deps.baseUrl());
        url.searchParams.set('token', token);
        return { status: 200, json: { url: url.toString(), expiresAt: new Date(expiresAt).toISOString() } };
      },
    },
  ];
}
