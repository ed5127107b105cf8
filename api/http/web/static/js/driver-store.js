// The driver app's storage on the phone: IndexedDB, so that the app survives a reload, a
// closed browser and a day without network.
//
// Two object stores:
// - `kv`: the session ({token, crew_id, expires_at}), the last route answer ({body, etag,
//   fetched_at}) and the driver's choices ({position_consent});
// - `queue`: the reports not yet accepted by the service, in the order they were made
//   (`seq`, auto-incremented), each with its Idempotency-Key, device time and attachments
//   (photos and the signature as bytes: ArrayBuffers keep in every browser's IndexedDB).
//
// Several tabs of the app share this database; a change is announced to the others on a
// BroadcastChannel (`onStoreChange`), so every tab shows the same queue.

const NAME = "fieldroute-driver";
const VERSION = 1;
const channel = "BroadcastChannel" in self ? new BroadcastChannel(NAME) : null;

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(NAME, VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv");
        if (!db.objectStoreNames.contains("queue")) {
          db.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
        }
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opening;
}

/** Run `work(store)` in one transaction on `name`; resolves with what `work`'s request gave
 * once the transaction is committed (so a reload right after cannot lose it). */
async function tx(name, mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(name, mode);
    let result;
    const request = work(transaction.objectStore(name));
    if (request) request.onsuccess = () => (result = request.result);
    transaction.oncomplete = () => resolve(result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

function announce(what) {
  if (channel) channel.postMessage({ what });
}

/** Call `listener(what)` when another tab changed the store ("queue", "kv"). */
export function onStoreChange(listener) {
  if (channel) channel.addEventListener("message", (event) => listener(event.data.what));
}

export function getKV(key) {
  return tx("kv", "readonly", (store) => store.get(key));
}

export async function setKV(key, value) {
  await tx("kv", "readwrite", (store) => store.put(value, key));
  announce("kv");
}

export async function deleteKV(key) {
  await tx("kv", "readwrite", (store) => store.delete(key));
  announce("kv");
}

/** Every queued report, oldest first. */
export async function queueAll() {
  const all = await tx("queue", "readonly", (store) => store.getAll());
  return (all || []).sort((a, b) => a.seq - b.seq);
}

export async function queueAdd(entry) {
  const seq = await tx("queue", "readwrite", (store) => store.add(entry));
  announce("queue");
  return seq;
}

export async function queuePut(entry) {
  await tx("queue", "readwrite", (store) => store.put(entry));
  announce("queue");
}

export async function queueDelete(seq) {
  await tx("queue", "readwrite", (store) => store.delete(seq));
  announce("queue");
}

/** Forget everything: session, route, choices and queue (signing out). */
export async function clearAll() {
  await tx("queue", "readwrite", (store) => store.clear());
  await tx("kv", "readwrite", (store) => store.clear());
  announce("queue");
  announce("kv");
}

/** The stored session, or null; an expired one is kept (its crew names whom to sign in as
 * when reports wait) but marked. */
export async function getSession() {
  const s = await getKV("session");
  if (!s) return null;
  s.expired = !s.token || (s.expires_at && Date.parse(s.expires_at) <= Date.now());
  return s;
}
