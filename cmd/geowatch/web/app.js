// geowatch's live map: watches, open alerts, recent observations and the
// timeline of transitions, read from the daemon's /v1 endpoints and polled
// for changes. No inline script (the page's CSP forbids it) and no network but
// this origin: the basemap is Natural Earth, drawn as vectors.
'use strict';

(function () {
  const POLL_MS = 2000;            // how often /v1/changes is asked
  const OBS_SINCE = '24h';         // recent observations shown
  const OBS_LIMIT = 5000;          // per watch
  const CLUSTER_BELOW_ZOOM = 11;   // cluster observations below this zoom
  const CLUSTER_PX = 44;           // cluster cell size on screen

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const fmtTime = (s) => (s ? new Date(s).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–');
  const fmtNum = (v) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 100) / 100) : v.toPrecision(3));
  const severityColor = { critical: '#c62828', warning: '#ef8c00', info: '#1e6fd9' };

  async function getJSON(path) {
    const r = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) throw new Error(path + ': ' + r.status + ' ' + (await r.text()).trim());
    return r.json();
  }

  const map = L.map('map', { zoomSnap: 0.5, worldCopyJump: true, preferCanvas: false });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution('Basemap: Natural Earth (public domain) · Leaflet (BSD-2-Clause)');
  map.setView([43, 131.5], 7);
  map.createPane('base').style.zIndex = 200;
  map.createPane('obs').style.zIndex = 350; // under the alerts' shapes (overlayPane, 400)

  const watchLayer = L.layerGroup().addTo(map);
  const alertLayer = L.layerGroup().addTo(map);
  const obsLayer = L.layerGroup().addTo(map);
  let watches = [];
  let observations = [];
  let alertsByID = new Map();
  let selected = null;
  let fitted = false;

  function setStatus(state, text) {
    const s = $('status');
    s.dataset.state = state;
    s.textContent = text;
  }

  async function loadBasemap() {
    const land = await getJSON('static/basemap.geojson');
    L.geoJSON(land, {
      pane: 'base', interactive: false,
      style: { color: '#8c8f84', weight: 0.8, fillColor: '#eeebe0', fillOpacity: 1 },
    }).addTo(map);
  }

  async function loadWatches() {
    const fc = await getJSON('v1/watches');
    watches = fc.features;
    watchLayer.clearLayers();
    const list = $('watches');
    list.replaceChildren();
    const bounds = [];
    for (const f of watches) {
      const p = f.properties;
      const style = { color: '#1d2330', weight: 1.5, dashArray: '5 4', fill: false, className: 'watch-shape' };
      const layer = p.shape === 'circle'
        ? L.circle([p.center[1], p.center[0]], Object.assign({ radius: p.radius_m }, style))
        : L.geoJSON(f.geometry, { style: () => style });
      layer.bindTooltip(p.name, { permanent: true, direction: 'top', className: 'watch-label' });
      layer.addTo(watchLayer);
      tagLayer(layer, { watch: p.name });
      bounds.push(layer.getBounds());
      const li = el('li', null, p.name + ' · ' + shapeText(p) +
        ' · ' + p.rules.map((r) => r.name).join(', '));
      li.dataset.watch = p.name;
      list.append(li);
    }
    if (!fitted && bounds.length) {
      map.fitBounds(bounds.reduce((a, b) => a.extend(b), L.latLngBounds(bounds[0].getSouthWest(), bounds[0].getNorthEast())), { padding: [30, 30] });
      fitted = true;
    }
    $('map').dataset.zoom = String(map.getZoom());
  }

  // progressionText sums up a progression: its steps, speed and where it is
  // expected next.
  function progressionText(pr) {
    const steps = pr.steps || [];
    const last = steps[steps.length - 1];
    let s = steps.length + ' steps along the route at ' + fmtNum(pr.speed_kmh) + ' km/h';
    if (last) s += ', last ' + (last.place || 'km ' + fmtNum(last.along_km)) + ' ' + fmtTime(last.at);
    if (pr.next) s += '; next ' + (pr.next.place || 'km ' + fmtNum(pr.next.along_km)) + ' ETA ' + fmtTime(pr.next.at);
    return s;
  }

  // shapeText says what a watch's area is, for the list.
  function shapeText(p) {
    if (p.shape === 'circle') return fmtNum(p.radius_m / 1000) + ' km';
    if (p.shape === 'corridor') return 'corridor ' + fmtNum(p.length_m / 1000) + ' km, ' + fmtNum(p.width_m / 1000) + ' km each side';
    return p.shape;
  }

  // tagLayer puts data attributes on a layer's SVG elements, for tests and styles.
  function tagLayer(layer, data) {
    const each = (l) => {
      const e = l.getElement && l.getElement();
      if (e) Object.assign(e.dataset, data);
      if (l.eachLayer) l.eachLayer(each);
    };
    each(layer);
  }

  function statsText(stats) {
    if (!stats) return '';
    const parts = [];
    for (const k of ['observed', 'expected', 'ratio', 'p', 'llr', 'recurrence_days']) {
      if (k in stats) parts.push((k === 'recurrence_days' ? 'recurrence' : k) + ' ' + fmtNum(stats[k]) + (k === 'recurrence_days' ? ' d' : ''));
    }
    return parts.join(' · ');
  }

  async function loadAlerts() {
    const fc = await getJSON('v1/alerts');
    alertLayer.clearLayers();
    alertsByID = new Map();
    const list = $('alerts');
    list.replaceChildren();
    const feats = fc.features.slice().sort((a, b) =>
      (a.properties.state === b.properties.state ? 0 : a.properties.state === 'firing' ? -1 : 1) || b.id - a.id);
    for (const f of feats) {
      const p = f.properties;
      alertsByID.set(f.id, f);
      const color = severityColor[p.severity] || '#555';
      const style = { color, weight: 3, fillColor: color, fillOpacity: p.state === 'firing' ? 0.3 : 0.1,
        dashArray: p.state === 'pending' ? '4 4' : null, className: 'alert-shape' };
      const layer = f.geometry.type === 'Polygon'
        ? L.polygon(f.geometry.coordinates.map((ring) => ring.map((c) => [c[1], c[0]])), style)
        : L.circle([p.lat, p.lon], Object.assign({ radius: p.radius_m }, style));
      layer.bindTooltip(p.watch + '/' + p.rule + ': ' + p.state + ', ' + p.count + ' observations');
      layer.on('click', () => select(f.id));
      layer.addTo(alertLayer);
      tagLayer(layer, { alertId: String(f.id), watch: p.watch, rule: p.rule, state: p.state });

      const li = el('li', p.state + ' ' + p.severity);
      Object.assign(li.dataset, { alertId: String(f.id), watch: p.watch, rule: p.rule, state: p.state });
      const head = el('div');
      head.append(el('span', 'name', p.watch + '/' + p.rule), ' ', el('span', 'badge ' + p.state, p.state), ' ', el('span', 'meta', p.severity));
      li.append(head);
      li.append(el('div', 'meta', p.count + ' observations · ' + fmtTime(p.first_seen) + ' – ' + fmtTime(p.last_seen)));
      const st = statsText(p.stats);
      if (st) li.append(el('div', 'stats', st));
      if (p.progression) li.append(el('div', 'stats progression', progressionText(p.progression)));
      if (p.summary) li.append(el('div', 'meta', p.summary));
      if (f.id === selected) li.classList.add('selected');
      li.addEventListener('click', () => select(f.id));
      list.append(li);
    }
    if (!feats.length) list.append(el('li', 'none', 'none'));
    if (selected !== null && !alertsByID.has(selected)) { selected = null; $('detail').hidden = true; }
    if (wanted !== null && alertsByID.has(wanted)) { // #alert=ID, as Alertmanager's generatorURL links here
      const id = wanted;
      wanted = null;
      const g = alertsByID.get(id).geometry;
      if (g.type === 'Polygon') map.fitBounds(g.coordinates[0].map((c) => [c[1], c[0]]), { padding: [40, 40] });
      select(id);
    }
  }

  // wantedAlert is the alert id in the page's #alert=ID fragment, or null.
  function wantedAlert() {
    const m = /^#alert=(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }
  let wanted = wantedAlert();
  window.addEventListener('hashchange', () => {
    wanted = wantedAlert();
    if (wanted !== null && alertsByID.has(wanted)) loadAlerts();
  });

  async function select(id) {
    selected = id;
    for (const li of $('alerts').children) li.classList.toggle('selected', li.dataset.alertId === String(id));
    const f = alertsByID.get(id);
    if (!f) return;
    $('detail-title').textContent = f.properties.watch + '/' + f.properties.rule + ': contributing observations';
    $('detail').hidden = false;
    const list = $('detail-obs');
    list.replaceChildren(el('li', 'none', 'loading…'));
    try {
      const fc = await getJSON('v1/alerts/' + id + '/observations');
      list.replaceChildren();
      for (const o of fc.features) {
        const p = o.properties;
        const li = el('li');
        li.dataset.fid = String(p.fid);
        li.append(el('div', null, p.title || p.kind || p.ext_id));
        const meta = el('div', 'when', fmtTime(p.observed_at) + ' · ' + p.source + (p.kind ? ' · ' + p.kind : ''));
        if (p.url && /^https?:\/\//.test(p.url)) {
          const a = el('a', null, 'link');
          a.href = p.url; a.target = '_blank'; a.rel = 'noopener noreferrer';
          meta.append(' · ', a);
        }
        li.append(meta);
        list.append(li);
      }
      if (!fc.features.length) list.append(el('li', 'none', 'none stored'));
    } catch (e) {
      list.replaceChildren(el('li', 'none', String(e.message)));
    }
  }

  async function loadObservations() {
    const seen = new Map();
    for (const f of watches) {
      const p = f.properties;
      const sel = p.shape === 'circle'
        ? 'near=' + p.center[1] + ',' + p.center[0] + '&radius=' + Math.round(p.radius_m * 1.5) + 'm'
        : 'within=' + encodeURIComponent(p.name);
      const fc = await getJSON('v1/observations?' + sel + '&since=' + OBS_SINCE + '&limit=' + OBS_LIMIT + '&format=geojson');
      for (const o of fc.features) seen.set(o.id, o);
    }
    observations = [...seen.values()];
    drawObservations();
  }

  function drawObservations() {
    obsLayer.clearLayers();
    const z = map.getZoom();
    const dot = (o) => {
      const p = o.properties;
      const m = L.circleMarker([o.geometry.coordinates[1], o.geometry.coordinates[0]],
        { pane: 'obs', radius: 4, color: '#fff', weight: 1, fillColor: '#1e6fd9', fillOpacity: 0.9, className: 'obs' });
      m.bindTooltip((p.title || p.kind) + ' · ' + fmtTime(p.observed_at) + ' · ' + p.source);
      return m;
    };
    if (z >= CLUSTER_BELOW_ZOOM) {
      for (const o of observations) dot(o).addTo(obsLayer);
      return;
    }
    const cells = new Map();
    for (const o of observations) {
      const pt = map.project([o.geometry.coordinates[1], o.geometry.coordinates[0]], z);
      const key = Math.floor(pt.x / CLUSTER_PX) + ':' + Math.floor(pt.y / CLUSTER_PX);
      if (!cells.has(key)) cells.set(key, []);
      cells.get(key).push(o);
    }
    for (const group of cells.values()) {
      if (group.length === 1) { dot(group[0]).addTo(obsLayer); continue; }
      let lat = 0, lon = 0;
      for (const o of group) { lat += o.geometry.coordinates[1]; lon += o.geometry.coordinates[0]; }
      const at = [lat / group.length, lon / group.length];
      const size = Math.min(44, 20 + 4 * Math.log2(group.length));
      const m = L.marker(at, { pane: 'obs', icon: L.divIcon({ className: 'cluster', html: String(group.length), iconSize: [size, size] }), keyboard: false });
      m.bindTooltip(group.length + ' observations');
      m.on('click', () => map.setView(at, Math.min(z + 2, 18)));
      m.addTo(obsLayer);
    }
  }

  async function loadTimeline() {
    const ts = await getJSON('v1/transitions?limit=50');
    const list = $('timeline');
    list.replaceChildren();
    for (const t of ts) {
      const li = el('li');
      li.dataset.alertId = String(t.alert_id);
      li.append(el('span', 'when', fmtTime(t.at)), ' ', t.watch + '/' + t.rule + ' ',
        el('span', 'to-' + t.to, (t.from ? t.from + ' → ' : '') + t.to));
      list.append(li);
    }
    if (!ts.length) list.append(el('li', 'none', 'no transitions yet'));
  }

  let last = null;
  async function poll() {
    try {
      const c = await getJSON('v1/changes');
      if (last && c.watches !== last.watches) await loadWatches();
      const work = [];
      if (!last || c.alerts !== last.alerts || c.transition !== last.transition) work.push(loadAlerts(), loadTimeline());
      if (!last || c.observation !== last.observation || c.watches !== last.watches) work.push(loadObservations());
      await Promise.all(work);
      last = c;
      setStatus('live', 'live · ' + new Date().toLocaleTimeString());
    } catch (e) {
      setStatus('error', 'offline: ' + e.message);
    }
    setTimeout(poll, POLL_MS);
  }

  map.on('zoomend', () => {
    $('map').dataset.zoom = String(map.getZoom()); // for tests: the zoom reached
    drawObservations();
  });
  (async () => {
    try {
      await loadBasemap();
      await loadWatches();
    } catch (e) {
      setStatus('error', 'offline: ' + e.message);
    }
    poll();
  })();
})();
