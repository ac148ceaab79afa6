// Package web is the layer of mountable web parts between the library
// (activity, inbox, workflow) and an app's own routes. Each sub-package is
// an http.Handler an app mounts under a path of its choice, with an
// authorization hook that refuses every request until the app supplies it:
//
//   - web/eventbrowser: events of the declared domains, filters,
//     permalinks with cause, effects and workflow runs (HTML, no JavaScript
//     needed);
//   - web/notifycenter: the in-app notifications' JSON API and live stream
//     (server-sent events, pushed across processes through Redis pub/sub);
//   - web/preferences: a person's notification preferences (a page and a
//     JSON API) under the app's defaults and critical kinds;
//   - web/feedview: rendering helpers the pages share and apps reuse
//     (folding runs of similar events, relative times, per-action
//     sentences).
//
// Nothing here knows the app's routing, sessions or users: the app says
// who asks (the hooks) and how to name things (the describers).
package web
