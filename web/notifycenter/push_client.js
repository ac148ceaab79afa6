// "Notify me on this browser", for the app's pages: include
// {prefix}/push/client.js, then call tidingsPush.subscribe() from a click
// (browsers ask the person for permission), tidingsPush.unsubscribe(), or
// tidingsPush.state() ("unsupported", "denied", "subscribed", "off").
'use strict';
(function () {
  const PREFIX = "{{PREFIX}}";
  const supported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  const registration = () => navigator.serviceWorker.register(PREFIX + '/push/sw.js', { scope: PREFIX + '/push/' });
  // active resolves once reg's worker is active. Not
  // navigator.serviceWorker.ready: that waits for a worker controlling
  // this page, and the app's pages are outside the worker's scope.
  const active = (reg) => new Promise((resolve, reject) => {
    if (reg.active) return resolve(reg);
    const w = reg.installing || reg.waiting;
    if (!w) return reject(new Error('tidings push: the service worker did not install'));
    w.addEventListener('statechange', () => {
      if (w.state === 'activated') resolve(reg);
      else if (w.state === 'redundant') reject(new Error('tidings push: the service worker failed to install'));
    });
  });
  const send = (method, body) => fetch(PREFIX + '/push/subscriptions', {
    method, credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  }).then((r) => { if (!r.ok) throw new Error('tidings push: the server answered ' + r.status); return r.json(); });

  window.tidingsPush = {
    async state() {
      if (!supported()) return 'unsupported';
      if (Notification.permission === 'denied') return 'denied';
      const reg = await navigator.serviceWorker.getRegistration(PREFIX + '/push/');
      return reg && (await reg.pushManager.getSubscription()) ? 'subscribed' : 'off';
    },
    async subscribe(label) {
      if (!supported()) throw new Error('tidings push: this browser has no web push');
      if ((await Notification.requestPermission()) !== 'granted') throw new Error('tidings push: notifications not allowed');
      const reg = await active(await registration());
      const key = (await (await fetch(PREFIX + '/push/key', { credentials: 'same-origin' })).json()).public_key;
      const sub = (await reg.pushManager.getSubscription()) || (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
      const body = sub.toJSON();
      if (label) body.label = label;
      return send('POST', body);
    },
    async unsubscribe() {
      const reg = supported() && (await navigator.serviceWorker.getRegistration(PREFIX + '/push/'));
      const sub = reg && (await reg.pushManager.getSubscription());
      if (!sub) return { removed: false };
      const res = await send('DELETE', { endpoint: sub.endpoint });
      await sub.unsubscribe();
      return res;
    },
  };
})();
