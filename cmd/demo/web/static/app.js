// Progressive enhancement only: every page works without this file.
"use strict";

document.documentElement.classList.add("js");

// The user switcher submits on change.
document.addEventListener("change", (ev) => {
  if (ev.target.id === "user-switcher") ev.target.form.submit();
});

// "Load more" appends the next page of a feed in place, from a fragment the
// server renders (and escapes) with html/template.
document.addEventListener("click", async (ev) => {
  const more = ev.target.closest("a.more[data-fragment]");
  if (!more) return;
  ev.preventDefault();
  more.setAttribute("aria-busy", "true");
  try {
    const res = await fetch(more.dataset.fragment, { headers: { Accept: "text/html" } });
    if (!res.ok) throw new Error(res.status + " " + res.statusText);
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const list = more.previousElementSibling;
    for (const li of doc.querySelectorAll("body > ol > li")) list.append(li);
    const next = doc.querySelector("a.more");
    if (next) more.replaceWith(next); else more.remove();
  } catch (err) {
    more.removeAttribute("aria-busy");
    more.textContent = "Load more (failed: " + err.message + "; click to retry)";
  }
});

// Relative times stay fresh while the page is open.
function ago(date) {
  const s = (Date.now() - date.getTime()) / 1000;
  if (s < 45) return "just now";
  if (s < 3600) return Math.max(1, Math.round(s / 60)) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  if (s < 172800) return "yesterday";
  if (s < 30 * 86400) return Math.floor(s / 86400) + " days ago";
  return null;
}
setInterval(() => {
  for (const t of document.querySelectorAll("time[datetime]")) {
    const text = ago(new Date(t.getAttribute("datetime")));
    if (text) t.textContent = text;
  }
}, 30000);

// The unread badge follows the server's counts, pushed by the notification
// center's stream (server-sent events: "counts" and "notification"); on the
// notifications page the list itself is refreshed when something arrives
// or the counts change. EventSource reconnects by itself and resumes after
// the last notification it saw (Last-Event-ID).
(function () {
  const badge = document.getElementById("unread-badge");
  if (!badge || !window.EventSource) return;
  const list = document.getElementById("notifications");
  let refreshing = null, again = false;
  async function refreshList() {
    if (!list) return;
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      try {
        do {
          again = false;
          const res = await fetch(list.dataset.fragment, { headers: { Accept: "text/html" } });
          if (res.ok) {
            const doc = new DOMParser().parseFromString(await res.text(), "text/html");
            list.replaceChildren(...doc.body.childNodes);
          }
        } while (again);
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }
  const stream = new EventSource(badge.dataset.stream);
  stream.addEventListener("counts", (ev) => {
    const n = JSON.parse(ev.data).unread;
    const changed = badge.textContent !== String(n);
    badge.textContent = String(n);
    badge.classList.toggle("zero", n === 0);
    const ol = list && list.querySelector("ol");
    if (changed || (ol && ol.dataset.unread !== String(n))) refreshList();
  });
  stream.addEventListener("notification", () => refreshList());
  window.addEventListener("pagehide", () => stream.close());
})();

// The rule form shows only the chosen action's parameters.
function syncActionParams(row) {
  const type = row.querySelector("select.action-type").value;
  for (const fs of row.querySelectorAll("fieldset.params")) fs.hidden = fs.dataset.action !== type;
}
for (const row of document.querySelectorAll(".action-row")) syncActionParams(row);
document.addEventListener("change", (ev) => {
  if (ev.target.matches("select.action-type")) syncActionParams(ev.target.closest(".action-row"));
});

// A table with data-refresh-ms (a backfill in progress) reloads the page
// until the server stops asking.
const refresh = document.querySelector("[data-refresh-ms]");
if (refresh) setTimeout(() => location.reload(), Number(refresh.dataset.refreshMs) || 1000);

// "Notify me on this browser": the notification center's client script
// (tidingsPush, loaded here from the box's data-client) registers its service worker, subscribes with the VAPID
// key and stores the subscription for the person; the web push inbox
// then pushes each event to it.
document.addEventListener("DOMContentLoaded", async () => {
  const box = document.getElementById("push");
  if (!box) return;
  await new Promise((resolve) => {
    const s = document.createElement("script");
    s.src = box.dataset.client;
    s.onload = s.onerror = resolve;
    document.head.append(s);
  });
  if (!window.tidingsPush) return;
  const on = document.getElementById("push-subscribe"), off = document.getElementById("push-unsubscribe");
  const state = document.getElementById("push-state");
  const words = {
    unsupported: "This browser has no web push.", denied: "Notifications are blocked for this site.",
    subscribed: "This browser is notified of your events.", off: "",
  };
  const show = (s) => {
    state.textContent = words[s] ?? s;
    on.hidden = s !== "off";
    off.hidden = s !== "subscribed";
    box.dataset.state = s;
  };
  box.hidden = false;
  show(await tidingsPush.state());
  on.addEventListener("click", async () => {
    on.disabled = true;
    try {
      const ua = navigator.userAgentData;
      const brand = ua?.brands?.find((b) => !/not.a.brand/i.test(b.brand))?.brand;
      await tidingsPush.subscribe(brand ? brand + (ua.platform ? " on " + ua.platform : "") : "this browser");
      show("subscribed");
    } catch (err) {
      show(err.message);
      box.dataset.state = "failed";
    } finally {
      on.disabled = false;
    }
  });
  off.addEventListener("click", async () => {
    try { await tidingsPush.unsubscribe(); show("off"); } catch (err) { show(err.message); }
  });
});
