/**
 * The console's one script, served as a same-origin file
 * (`/.pomerium/admin/console.js`, allowed by `script-src 'self'`). It only
 * enhances pages that work without it:
 *  - "Copy token" buttons (hidden until this script shows them) copy the
 *    text of the field they name and say so in a status region;
 *  - the audit table, when it is showing the newest events, adds new
 *    events as they arrive from the server-sent events endpoint named by
 *    `data-live-src`, and announces them in its live region.
 * Rows are built with `textContent`, never HTML from the wire.
 */
import { SCRIPT_PATH } from './layout.js';
import type { ConsoleRoute } from './gate.js';

const SCRIPT = `'use strict';
(function () {
  function copy(button) {
    var target = document.getElementById(button.getAttribute('data-copy'));
    var status = document.querySelector('[data-copy-status="' + button.getAttribute('data-copy') + '"]');
    if (!target) return;
    function done(ok) { if (status) status.textContent = ok ? 'Copied to the clipboard.' : 'Could not copy: select the token and copy it yourself.'; }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(target.value).then(function () { done(true); }, function () { target.select(); done(false); });
    } else {
      target.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      done(ok);
    }
  }
  function cell(row, text, header) {
    var c = document.createElement(header ? 'th' : 'td');
    if (header) c.setAttribute('scope', 'row');
    c.textContent = text;
    row.appendChild(c);
    return c;
  }
  function live(table) {
    var src = table.getAttribute('data-live-src');
    var status = document.getElementById(table.getAttribute('data-live-status'));
    var body = table.querySelector('tbody');
    if (!src || !body || typeof EventSource === 'undefined') return;
    var added = 0;
    var es = new EventSource(src);
    es.addEventListener('audit', function (m) {
      var e;
      try { e = JSON.parse(m.data); } catch (err) { return; }
      var row = document.createElement('tr');
      row.className = 'fresh';
      var t = cell(row, '', true);
      var time = document.createElement('time');
      time.setAttribute('datetime', e.time);
      time.textContent = String(e.time).slice(0, 19).replace('T', ' ') + ' UTC';
      t.appendChild(time);
      cell(row, e.kind);
      var d = cell(row, '');
      if (e.decision) { var s = document.createElement('span'); s.className = 'status s-' + e.decision; s.textContent = e.decision; d.appendChild(s); }
      else d.textContent = '';
      cell(row, e.route || '');
      cell(row, e.who || '');
      cell(row, e.actor || '');
      cell(row, e.summary || '');
      var empty = table.querySelector('[data-empty]');
      if (empty) empty.remove();
      body.insertBefore(row, body.firstChild);
      added++;
      if (status) status.textContent = added + (added === 1 ? ' new event' : ' new events') + ' since the page loaded.';
    });
    window.addEventListener('pagehide', function () { es.close(); });
  }
  function start() {
    var buttons = document.querySelectorAll('[data-copy]');
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].classList.remove('hidden');
      buttons[i].addEventListener('click', function (ev) { copy(ev.currentTarget); });
    }
    var tables = document.querySelectorAll('table[data-live-src]');
    for (var j = 0; j < tables.length; j++) live(tables[j]);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
`;

/** `GET /.pomerium/admin/console.js`: public (it holds nothing), cached briefly. */
export const scriptRoute: ConsoleRoute = {
  method: 'GET', path: SCRIPT_PATH, kind: 'asset',
  async handle({ ctx }) {
    ctx.res.writeHead(200, {
      'content-type': 'text/javascript; charset=utf-8',
      'content-length': Buffer.byteLength(SCRIPT),
      'x-content-type-options': 'nosniff',
      'cache-control': 'max-age=300',
      'x-request-id': ctx.requestId,
    });
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : SCRIPT);
  },
};
