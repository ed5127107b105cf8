// The crew's live position for the dispatcher, only with the driver's consent.
//
// While the driver has agreed (a toggle, remembered on the phone) and the route is running
// (from the first departed report until the last stop is done), the phone's position is
// sent every 90 s (`POST /me/position`), never queued: an old position is of no use. A 422
// (outside the shift) or a service without the endpoint (404) stops the reports until the
// route changes (`resumePositions`, on a new route answer) or the app is opened again. The
// last fix is also put on the driver's reports (lon, lat) while it is fresh.

import { call, deviceTime } from "./driver-queue.js";

export const EVERY_MS = 90_000;
const FRESH_MS = 5 * 60_000;

let timer = null;
let paused = false;
let last = null;
let onState = () => {};

/** The last position as {lon, lat} while fresh, else null. */
export function lastFix() {
  return last && Date.now() - last.at < FRESH_MS ? { lon: last.lon, lat: last.lat } : null;
}

/** Called with "sending", "paused", "denied" or "off" when that changes. */
export function onPositionState(listener) {
  onState = listener;
}

export function resumePositions() {
  paused = false;
}

/** Start or stop the reports: `running` (the route is under way) and `consent`. */
export function updatePositions(running, consent) {
  const wanted = running && consent && !paused;
  if (wanted && timer === null) {
    timer = setInterval(report, EVERY_MS);
    report();
    onState("sending");
  } else if (!wanted && timer !== null) {
    clearInterval(timer);
    timer = null;
    onState(paused ? "paused" : "off");
  }
}

function stop(state) {
  clearInterval(timer);
  timer = null;
  onState(state);
}

/** Ask the phone for a position (the browser asks the driver the first time). */
export function locate(options = {}) {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new Error("no geolocation"));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (p) => {
        last = {
          lon: p.coords.longitude,
          lat: p.coords.latitude,
          accuracy: p.coords.accuracy,
          at: Date.now(),
        };
        resolve(last);
      },
      reject,
      { enableHighAccuracy: true, maximumAge: 30_000, timeout: 20_000, ...options },
    );
  });
}

async function report() {
  let fix;
  try {
    fix = await locate();
  } catch (err) {
    if (err && err.code === 1) stop("denied"); // PERMISSION_DENIED
    return;
  }
  if (!navigator.onLine || timer === null) return;
  try {
    await call("/me/position", {
      method: "POST",
      json: {
        lon: fix.lon,
        lat: fix.lat,
        accuracy_m: Math.round(fix.accuracy * 10) / 10,
        device_time: deviceTime(),
      },
    });
  } catch (err) {
    if (err.status === 422 || err.status === 404) {
      paused = true;
      stop("paused");
    }
    // a network failure: the next report in 90 s
  }
}
