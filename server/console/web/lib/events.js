// events.js: live updates from GET /api/v1/events (server-sent events).
// One EventSource for the console; pages subscribe by event type and get
// an unsubscribe function, which they return from render to be called
// when the page is left.

let source = null;
const handlers = new Map(); // type → Set of functions

function ensure() {
  if (source) return;
  source = new EventSource('/api/v1/events', { withCredentials: true });
  for (const type of handlers.keys()) listen(type);
}

function listen(type) {
  source.addEventListener(type, (e) => {
    let data = null;
    try { data = JSON.parse(e.data); } catch { return; }
    for (const fn of handlers.get(type) || []) fn(data);
  });
}

// on('display', fn) → unsubscribe.
export function on(type, fn) {
  if (!handlers.has(type)) {
    handlers.set(type, new Set());
    if (source) listen(type);
  }
  handlers.get(type).add(fn);
  ensure();
  return () => handlers.get(type).delete(fn);
}

// close ends the stream (at sign-out).
export function close() {
  if (source) source.close();
  source = null;
  handlers.clear();
}
