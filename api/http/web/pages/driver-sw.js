// The driver app's service worker, served at /driver/sw.js with the scope /driver
// (api/http/routers/driver_app.py writes the shell list and its version in below).
//
// It keeps the app shell (page, scripts, styles, icons, manifest) in a cache named after the
// version, so the app opens with no network at all; the data (token, route, queued reports)
// is the page's, in IndexedDB. The shell is answered from the cache first: every file of it is
// in the version, so a changed file makes a new worker, which fetches the whole new shell
// before it takes over and then drops the old cache. The API is never touched here: the page
// decides what to do offline (queue reports, show the stored route).

const VERSION = "__VERSION__";
const CACHE = `fieldroute-driver-${VERSION}`;
const SHELL = ["__SHELL__"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // "reload": past the browser's HTTP cache, so no file of an older version slips in
      await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("fieldroute-driver-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

function shellKey(request) {
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || request.method !== "GET") return null;
  if (request.mode === "navigate" && url.pathname === "/driver") return "/driver";
  return SHELL.includes(url.pathname) ? url.pathname : null;
}

self.addEventListener("fetch", (event) => {
  const key = shellKey(event.request);
  if (!key) return; // the API and everything else: straight to the network
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      const hit = await cache.match(key, { ignoreSearch: true, ignoreVary: true });
      if (hit) return hit;
      const answer = await fetch(event.request);
      if (answer.ok) await cache.put(key, answer.clone());
      return answer;
    })(),
  );
});
