// The notification center's service worker: shows each web push
// (inbox/webpush's Message: title, body, tag, url) as a notification and
// opens its page on a click. Served by the center at {prefix}/push/sw.js.
'use strict';
const OPEN_URL = "{{OPEN_URL}}";
const PREFIX = "{{PREFIX}}";

function localURL(u) {
  return typeof u === 'string' && u.startsWith('/') && !u.startsWith('//') && !u.startsWith('/\\') ? u : OPEN_URL;
}

self.addEventListener('push', (event) => {
  let m = {};
  if (event.data) {
    try { m = event.data.json(); } catch (e) { m = { title: event.data.text() }; }
  }
  const options = { body: m.body || '', data: { url: localURL(m.url) } };
  if (m.tag) options.tag = m.tag;
  event.waitUntil(self.registration.showNotification(m.title || 'New notification', options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(localURL(event.notification.data && event.notification.data.url), self.location.origin).href;
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((list) => {
    for (const c of list) {
      if (c.url === url && 'focus' in c) return c.focus();
    }
    return self.clients.openWindow(url);
  }));
});

// The push service renewed the subscription: store the new one.
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil((async () => {
    const key = (await (await fetch(PREFIX + '/push/key', { credentials: 'same-origin' })).json()).public_key;
    const sub = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    await fetch(PREFIX + '/push/subscriptions', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(sub) });
  })());
});
