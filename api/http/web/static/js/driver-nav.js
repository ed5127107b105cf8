// Navigation deep links from a stop to the phone's map apps, and the coordinate systems they
// want. The API gives WGS-84 (GPS); Chinese map apps take shifted coordinates:
//
// - AMap (Gaode) and Tencent: GCJ-02, the national datum, WGS-84 moved by a published
//   formula (gcj02.js, the same as dispatch/files/coords.py);
// - Baidu Maps: BD-09, GCJ-02 moved once more. With (x, y) = GCJ-02 (lon, lat) and
//   x_pi = pi * 3000 / 180:
//       z     = sqrt(x^2 + y^2) + 0.00002 * sin(y * x_pi)
//       theta = atan2(y, x)     + 0.000003 * cos(x * x_pi)
//       BD-09 lon = z * cos(theta) + 0.0065,   BD-09 lat = z * sin(theta) + 0.006
//   (the widely published conversion; Baidu's own API offers it as coordinate conversion,
//   which needs a key and the network: the app must work offline). Reference: GCJ-02
//   (116.404, 39.915) is BD-09 (116.41036949371029, 39.92133699351021).
// - Any other map app: a `geo:` URI (RFC 5870) in WGS-84.
//
// Baidu's app link (`baidumap://`) opens nothing on a phone without the app, so the page
// falls back to Baidu's web page if it is still showing a moment later (driver-stop.js).

import { wgs84ToGcj02 } from "./gcj02.js";

const X_PI = (Math.PI * 3000.0) / 180.0;

/** [lon, lat] in BD-09 from GCJ-02 (Baidu's shift; see above). */
export function gcj02ToBd09(lon, lat) {
  const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * X_PI);
  const theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * X_PI);
  return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006];
}

/** [lon, lat] in BD-09 from WGS-84: WGS-84 -> GCJ-02 -> BD-09. */
export function wgs84ToBd09(lon, lat) {
  const [x, y] = wgs84ToGcj02(lon, lat);
  return gcj02ToBd09(x, y);
}

const fixed = (v) => Number(v).toFixed(6);

/** A short name for the destination shown in the map app (no `|` or `,`: they separate). */
function placeName(stop) {
  const name = String(stop.address || stop.job_id || "").replace(/[|,]/g, " ");
  return name.slice(0, 60);
}

/** AMap's navigation link (GCJ-02), which opens the app when installed, else its web page. */
export function amapLink(stop) {
  const [lon, lat] = wgs84ToGcj02(stop.lon, stop.lat);
  const to = `${fixed(lon)},${fixed(lat)},${encodeURIComponent(placeName(stop))}`;
  return `https://uri.amap.com/navigation?to=${to}&mode=car&coordinate=gaode&callnative=1&src=fieldroute`;
}

function baiduDestination(stop) {
  const [lon, lat] = wgs84ToBd09(stop.lon, stop.lat);
  return `latlng:${fixed(lat)},${fixed(lon)}|name:${encodeURIComponent(placeName(stop))}`;
}

/** Baidu Maps' app link (BD-09). */
export function baiduAppLink(stop) {
  return (
    `baidumap://map/direction?destination=${baiduDestination(stop)}` +
    "&coord_type=bd09ll&mode=driving&src=fieldroute.driver"
  );
}

/** Baidu's web directions page: where the app link falls back to. `from` is the phone's last
 * position ({lon, lat} in WGS-84) when known; without it the page asks for a start. */
export function baiduWebLink(stop, from = null) {
  let origin = "";
  if (from) {
    const [lon, lat] = wgs84ToBd09(from.lon, from.lat);
    origin = `origin=latlng:${fixed(lat)},${fixed(lon)}|name:${encodeURIComponent("我的位置")}&`;
  }
  return (
    `https://api.map.baidu.com/direction?${origin}destination=${baiduDestination(stop)}` +
    "&coord_type=bd09ll&mode=driving&output=html&src=fieldroute.driver"
  );
}

/** Any map app: `geo:` in WGS-84, with the place as a query label. */
export function geoLink(stop) {
  const at = `${fixed(stop.lat)},${fixed(stop.lon)}`;
  return `geo:${at}?q=${at}(${encodeURIComponent(placeName(stop))})`;
}
