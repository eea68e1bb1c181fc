// invite.js - the Invite panel: the join URLs in large type with a QR code
// each, for the projector.
//
// Shown on the presenter's page of a LAN bind only (the store's "access":
// presenter and lan); /api/invite lists the URLs (never with the token) and
// the QR code image of each.
import { $, api } from './lib.js';
import { t } from './i18n.js';
import * as store from './store.js';

let shown = false;
store.subscribe('access', (a) => {
  const show = a.presenter && a.lan;
  if (show === shown) return;
  shown = show;
  $('invite-card').hidden = !show;
  if (show) loadInvite();
});

async function loadInvite() {
  try {
    const r = await api('/api/invite');
    const list = $('invite-list');
    list.textContent = '';
    const invites = Array.isArray(r.invites) ? r.invites : [];
    $('invite-msg').textContent = r.lan === false ? t('invite.loopback') : invites.length ? '' : t('invite.none');
    for (const it of invites) {
      const fig = document.createElement('figure');
      fig.className = 'invite';
      const im = document.createElement('img');
      im.src = it.qr;
      im.alt = t('invite.qrAlt', { u: it.url });
      const a = document.createElement('a');
      a.href = it.url;
      a.textContent = it.url;
      fig.append(im, a);
      list.append(fig);
    }
  } catch (e) {
    $('invite-msg').textContent = e.message;
  }
}
