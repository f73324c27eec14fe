// map.js: a map drawn from the server's own data — the organisation's
// display points and cluster outlines on a plain plane with a graticule.
// No tiles, nothing from the internet. Longitude is scaled by the cosine
// of the middle latitude (an equirectangular plane), which is true enough
// for a province.
import { svg, h } from './dom.js';
import { t, fmtNumber } from './i18n.js';

const W = 100; // the plane's width in SVG units; the height follows

// hull is the convex hull of [lon, lat] points (Andrew's monotone chain).
export function hull(points) {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [];
  for (const q of p) { while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], q) <= 0) lower.pop(); lower.push(q); }
  const upper = [];
  for (const q of p.reverse()) { while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], q) <= 0) upper.pop(); upper.push(q); }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

// createMap({ points, outlines, pick, onPick, label }) builds the map.
// points: [{ id, lat, lon, label, self }]; outlines: [{ id, label,
// points: [{lat, lon}] }] (drawn as the hull of the points, padded);
// pick: {lat, lon} or null, moved by a click or the arrow keys when onPick
// is given. Returns { el, setPick(lat, lon), toLatLon(x, y) }.
export function createMap({ points = [], outlines = [], pick = null, onPick = null, label }) {
  const all = [...points, ...outlines.flatMap((o) => o.points)].filter((p) => p && Number.isFinite(p.lat) && Number.isFinite(p.lon));
  if (pick) all.push(pick);
  // Bounds: the organisation's points, padded; Viet Nam when there are none.
  let [minLat, maxLat, minLon, maxLon] = all.length
    ? [Math.min(...all.map((p) => p.lat)), Math.max(...all.map((p) => p.lat)), Math.min(...all.map((p) => p.lon)), Math.max(...all.map((p) => p.lon))]
    : [8.2, 23.4, 102.1, 109.5];
  const span = Math.max(maxLat - minLat, maxLon - minLon, 0.02);
  const pad = span * 0.15;
  minLat -= pad; maxLat += pad; minLon -= pad; maxLon += pad;
  const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const scale = W / Math.max((maxLon - minLon) * k, 1e-9);
  let H = (maxLat - minLat) * scale;
  if (H < W * 0.45) { // keep a usable height for east-west spreads
    const extra = (W * 0.45 / scale - (maxLat - minLat)) / 2;
    minLat -= extra; maxLat += extra; H = W * 0.45;
  }
  if (H > W * 1.2) { // and a usable width for north-south spreads
    const s2 = W * 1.2 / (maxLat - minLat);
    const extra = (W / s2 / k - (maxLon - minLon)) / 2;
    minLon -= extra; maxLon += extra; H = W * 1.2;
  }
  const sx = W / ((maxLon - minLon) * k);
  const sy = H / (maxLat - minLat);
  const x = (lon) => (lon - minLon) * k * sx;
  const y = (lat) => (maxLat - lat) * sy;
  const toLatLon = (px, py) => ({ lat: maxLat - py / sy, lon: minLon + px / (k * sx) });

  const root = svg('svg', { class: 'map', viewBox: `0 0 ${W} ${H.toFixed(3)}`, role: onPick ? 'application' : 'img', 'aria-label': label,
    tabindex: onPick ? '0' : null });
  // Graticule: lines at a round step of degrees, labelled.
  const step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5].find((s) => (maxLat - minLat) / s <= 8) || 10;
  const grid = svg('g', { 'aria-hidden': 'true' });
  for (let la = Math.ceil(minLat / step) * step; la <= maxLat; la += step) {
    grid.append(svg('line', { class: 'grid', x1: 0, x2: W, y1: y(la), y2: y(la) }),
      svg('text', { class: 'pt-label', x: 0.8, y: y(la) - 0.6 }, `${fmtNumber(la, { maximumFractionDigits: 2 })}°`));
  }
  for (let lo = Math.ceil(minLon / step) * step; lo <= maxLon; lo += step) {
    grid.append(svg('line', { class: 'grid', x1: x(lo), x2: x(lo), y1: 0, y2: H }));
  }
  root.append(grid);
  for (const o of outlines) {
    const pts = o.points.filter((p) => Number.isFinite(p.lat) && Number.isFinite(p.lon));
    if (!pts.length) continue;
    const r = 2.5; // padding around the members, in plane units
    let shape;
    if (pts.length < 3) {
      const cx = pts.reduce((s, p) => s + x(p.lon), 0) / pts.length;
      const cy = pts.reduce((s, p) => s + y(p.lat), 0) / pts.length;
      const rr = r + Math.max(0, ...pts.map((p) => Math.hypot(x(p.lon) - cx, y(p.lat) - cy)));
      shape = svg('circle', { class: 'cluster', cx, cy, r: rr });
    } else {
      const hp = hull(pts.map((p) => [x(p.lon), y(p.lat)]));
      const cx = hp.reduce((s, p) => s + p[0], 0) / hp.length;
      const cy = hp.reduce((s, p) => s + p[1], 0) / hp.length;
      const padded = hp.map(([px, py]) => { const d = Math.hypot(px - cx, py - cy) || 1; return [px + (px - cx) / d * r, py + (py - cy) / d * r]; });
      shape = svg('polygon', { class: 'cluster', points: padded.map((p) => p.map((v) => v.toFixed(2)).join(',')).join(' ') });
    }
    shape.dataset.cluster = o.id;
    shape.append(svg('title', {}, o.label));
    const top = pts.reduce((a, p) => (p.lat > a.lat ? p : a), pts[0]);
    root.append(shape, svg('text', { class: 'cluster-label', x: x(top.lon) - 2, y: Math.max(3, y(top.lat) - r - 1.5), 'aria-hidden': 'true' }, o.label));
  }
  for (const p of points) {
    if (!Number.isFinite(p.lat) || !Number.isFinite(p.lon)) continue;
    const g = svg('g', { 'data-point': p.id });
    g.append(svg('circle', { class: ['pt', p.self && 'pt-self'], cx: x(p.lon), cy: y(p.lat), r: 1.2 }, svg('title', {}, p.label)),
      svg('text', { class: 'pt-label', x: x(p.lon) + 1.8, y: y(p.lat) + 1 }, p.label));
    root.append(g);
  }
  const marker = svg('g', { class: 'pick', 'aria-hidden': 'true' });
  root.append(marker);

  let current = pick;
  function setPick(lat, lon, fromUser) {
    current = Number.isFinite(lat) && Number.isFinite(lon) ? { lat, lon } : null;
    marker.replaceChildren();
    if (current) {
      marker.append(svg('circle', { class: 'pt pt-self', cx: x(current.lon), cy: y(current.lat), r: 1.6 }),
        svg('circle', { class: 'cluster', cx: x(current.lon), cy: y(current.lat), r: 3 }));
    }
    if (fromUser && onPick && current) onPick(current.lat, current.lon);
  }
  setPick(pick?.lat, pick?.lon, false);
  if (onPick) {
    root.addEventListener('click', (e) => {
      const pt = root.createSVGPoint();
      pt.x = e.clientX; pt.y = e.clientY;
      const m = root.getScreenCTM();
      if (!m) return;
      const q = pt.matrixTransform(m.inverse());
      const ll = toLatLon(q.x, q.y);
      setPick(round(ll.lat), round(ll.lon), true);
    });
    // Arrow keys move the pick by a hundredth of the plane.
    root.addEventListener('keydown', (e) => {
      const d = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] }[e.key];
      if (!d) return;
      e.preventDefault();
      const c = current || toLatLon(W / 2, H / 2);
      const ll = toLatLon(x(c.lon) + d[0] * W / 100, y(c.lat) + d[1] * W / 100);
      setPick(round(ll.lat), round(ll.lon), true);
    });
  }
  return { el: root, setPick: (lat, lon) => setPick(lat, lon, false), toLatLon };
}

function round(v) { return Math.round(v * 1e5) / 1e5; }

// mapLegend explains the map's marks.
export function mapLegend() {
  return h('p', { class: 'hint' }, t('map.legend'));
}
