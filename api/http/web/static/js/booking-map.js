// The booking page's small map: click the customer's home to fill in its coordinates, or
// type them and see the point. Leaflet (vendored, global `L`), a plain background unless a
// tile layer is configured, as on the board.
//
// The API takes WGS-84. On GCJ-02 tiles (AMap, Tencent; `tile_coords` "gcj02") a click is
// where the map shows the home, so it is moved back to WGS-84 before it fills the fields.

import { projector, wgs84ToGcj02 } from "./gcj02.js";

const L = window.L;
/** Shanghai's centre: where the map opens until a point is set */
const CENTRE = [31.23, 121.47];

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The WGS-84 point a GCJ-02 map shows at (lon, lat): the shift inverted by iteration (the
 * shift changes by millimetres over its own few hundred metres, so four steps suffice). */
export function gcj02ToWgs84(lon, lat) {
  let x = lon;
  let y = lat;
  for (let i = 0; i < 4; i += 1) {
    const [gx, gy] = wgs84ToGcj02(x, y);
    x -= gx - lon;
    y -= gy - lat;
  }
  return [x, y];
}

export class PointPicker {
  /** `onPick(lon, lat)` is called with the WGS-84 point of a click on the map. */
  constructor(element, config, onPick) {
    this.project = projector(config.tile_coords);
    this.gcj02 = config.tile_coords === "gcj02";
    this.map = L.map(element, { zoomSnap: 0.5, attributionControl: Boolean(config.tile_url) });
    if (config.tile_url) {
      L.tileLayer(config.tile_url, {
        attribution: esc(config.tile_attribution),
        maxZoom: 19,
      }).addTo(this.map);
    } else {
      element.classList.add("no-tiles");
    }
    this.map.setView(CENTRE, 10);
    this.marker = null;
    this.map.on("click", (event) => {
      const { lat, lng } = event.latlng;
      const [lon, wgsLat] = this.gcj02 ? gcj02ToWgs84(lng, lat) : [lng, lat];
      const point = [Number(lon.toFixed(6)), Number(wgsLat.toFixed(6))];
      this.show(...point);
      onPick(...point);
    });
  }

  /** Mark the WGS-84 point (lon, lat) and bring it into view; null clears the mark. */
  show(lon, lat) {
    if (lon === null || lat === null || !Number.isFinite(lon) || !Number.isFinite(lat)) {
      if (this.marker) this.marker.remove();
      this.marker = null;
      return;
    }
    const at = this.project(lon, lat);
    if (!this.marker) {
      this.marker = L.circleMarker(at, {
        radius: 8, weight: 3, color: "#ffffff", fillColor: "#c62828", fillOpacity: 1,
        className: "home-mark",
      }).addTo(this.map);
    } else {
      this.marker.setLatLng(at);
    }
    if (!this.map.getBounds().contains(at)) this.map.panTo(at);
  }

  /** Leaflet measures its box when drawn: call after the page's layout changed. */
  refresh() {
    this.map.invalidateSize();
  }
}
