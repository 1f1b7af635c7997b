/**
 * The page's only script (inline, allowed by its CSP nonce): every button calls the same admin
 * API the CLI calls, as JSON, with the session's CSRF token in a header. Resync reads the
 * NDJSON progress stream the CLI's progress bar reads. The page reloads itself after 30 s
 * without a click or key press (and nothing in flight), so orders are seen arriving.
 */
export const DASHBOARD_SCRIPT = `
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const note = document.getElementById('action-note');
  let busy = false;
  const say = (text, bad) => { note.textContent = text; note.className = bad ? 'bad' : 'ok'; };
  async function call(path, body) {
    const res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
    });
    if (!res.ok) {
      let msg = 'HTTP ' + res.status;
      try { msg = (await res.json()).error || msg; } catch {}
      throw new Error(msg);
    }
    return res;
  }
  async function act(button) {
    const d = button.dataset;
    if (d.confirm && !confirm(d.confirm)) return;
    busy = true;
    document.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    try {
      if (d.action === 'resync') {
        await resync();
        busy = false;
        document.querySelectorAll('button').forEach((b) => { b.disabled = false; });
        return;
      }
      if (d.action === 'logout') { await call('/admin/logout', {}); location.reload(); return; }
      else {
        let body = JSON.parse(d.body);
        if (d.input) {
          const value = document.getElementById(d.input).value.trim();
          if (!value) throw new Error('enter the supplier order id first');
          body = { ...body, action: { ...body.action, supplierOrderId: value } };
        }
        const res = await call(d.path, body);
        say((await res.json()).message || 'done');
      }
      setTimeout(() => location.reload(), 1500);
    } catch (e) {
      say(e.message, true);
      busy = false;
      document.querySelectorAll('button').forEach((b) => { b.disabled = false; });
    }
  }
  async function resync() {
    const bar = document.getElementById('resync-progress');
    const text = document.getElementById('resync-text');
    bar.hidden = false;
    text.textContent = 'starting…';
    const res = await call('/admin/resync', {});
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffered.indexOf('\\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if (line.type === 'progress') {
          bar.max = line.total || 1;
          bar.value = line.settled;
          text.textContent = line.store + ': ' + line.settled + '/' + line.total + ' SKUs';
        } else if (line.type === 'done') {
          const r = line.report;
          text.textContent = 'resync ' + r.outcome + ': ' + r.stores.map((s) => s.store + ' ' + s.acknowledged + ' acknowledged, ' + s.failed + ' failed').join('; ');
          text.dataset.outcome = r.outcome;
        } else {
          throw new Error('resync failed: ' + line.error.message);
        }
      }
    }
  }
  document.querySelectorAll('button[data-action]').forEach((b) => b.addEventListener('click', () => act(b)));
  let quietSince = Date.now();
  for (const type of ['click', 'keydown', 'input']) document.addEventListener(type, () => { quietSince = Date.now(); });
  setInterval(() => {
    if (!busy && document.visibilityState === 'visible' && Date.now() - quietSince >= 30000) location.reload();
  }, 5000);
})();
`;
