package main

import (
	"bufio"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
)

// webAssets is the live map: its page, script and style, the vendored Leaflet
// (web/leaflet, BSD-2-Clause, see its LICENSE) and the Natural Earth basemap
// (web/basemap.geojson, public domain; web/mkbasemap.go makes it).
//
//go:embed web/index.html web/app.js web/app.css web/basemap.geojson web/leaflet/leaflet.js web/leaflet/leaflet.css web/leaflet/LICENSE web/leaflet/images/*.png
var webAssets embed.FS

// Bounds of the read side of the HTTP listener.
const (
	readTimeout     = 30 * time.Second // per request, for the store reads it makes
	readInFlight    = 16               // read requests served at once; beyond, 503
	httpQueryRows   = 10000            // GET /v1/observations: default and largest limit
	transitionsRows = 100              // GET /v1/transitions: default limit
	maxTransitions  = 1000             // and its largest
	timelineAlerts  = 1000             // the newest alerts whose transitions the timeline reads
)

// contentSecurityPolicy is every read response's CSP: scripts, styles and data
// from this origin only, no inline script or style element, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// mapAPI is the read-only side of the HTTP listener: the live map at / and the
// JSON endpoints under /v1/ it polls, which scripts can use as well. It reads
// the engine's published state (Engine.OpenAlerts, which never waits for an
// evaluation) and the store's read connections; it never takes a lock the
// engine evaluates under.
type mapAPI struct {
	st     store.Backend
	engine *monitor.Engine
	plan   atomic.Pointer[configs.Plan] // for the watches and the gazetteer; swapped on reload
	log    *zap.Logger
	now    func() time.Time
	slots  chan struct{}
}

func newMapAPI(plan *configs.Plan, st store.Backend, engine *monitor.Engine, log *zap.Logger) *mapAPI {
	m := &mapAPI{st: st, engine: engine, log: log, now: time.Now, slots: make(chan struct{}, readInFlight)}
	m.plan.Store(plan)
	return m
}

// setPlan makes a reloaded config's watches, places and token current.
func (m *mapAPI) setPlan(p *configs.Plan) { m.plan.Store(p) }

func (m *mapAPI) handler() http.Handler {
	static, err := fs.Sub(webAssets, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", m.index)
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /v1/watches", m.watches)
	mux.HandleFunc("GET /v1/alerts", m.alerts)
	mux.HandleFunc("GET /v1/alerts/{id}/observations", m.alertObservations)
	mux.HandleFunc("GET /v1/transitions", m.transitions)
	mux.HandleFunc("GET /v1/observations", m.observations)
	mux.HandleFunc("GET /v1/changes", m.changes)
	return m.guard(mux)
}

// guard sets the security headers, refuses cross-origin requests and requests
// without the token (when the config has one), bounds how many requests run at
// once and gives each a deadline.
func (m *mapAPI) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !sameOrigin(r) {
			http.Error(w, "cross-origin requests are refused", http.StatusForbidden)
			return
		}
		if !m.authorized(r) {
			// Basic lets a browser ask for the token (any user name, the token as
			// password); scripts send it as a bearer token.
			hd.Add("WWW-Authenticate", `Bearer realm="geowatch"`)
			hd.Add("WWW-Authenticate", `Basic realm="geowatch", charset="UTF-8"`)
			http.Error(w, "missing or invalid token", http.StatusUnauthorized)
			return
		}
		select {
		case m.slots <- struct{}{}:
			defer func() { <-m.slots }()
		default:
			hd.Set("Retry-After", "1")
			http.Error(w, "too many read requests at once; retry", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// sameOrigin refuses what a browser marks as coming from another origin (a
// Sec-Fetch-Site other than same-origin or none, i.e. typed in), except a
// top-level navigation, whose answer the other page cannot read (a link to the
// map from a wiki works); and an Origin that is not this host.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" &&
		(r.Header.Get("Sec-Fetch-Mode") != "navigate" || r.Header.Get("Sec-Fetch-Dest") != "document") {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// authorized reports whether r carries the config's token, as a bearer token
// or as a Basic password; true when the config has none.
func (m *mapAPI) authorized(r *http.Request) bool {
	p := m.plan.Load()
	if p.HTTP == nil || p.HTTP.Token == "" {
		return true
	}
	want := []byte(p.HTTP.Token)
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return subtle.ConstantTimeCompare([]byte(cred), want) == 1
	case strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return false
		}
		_, pass, ok := strings.Cut(string(b), ":")
		return ok && subtle.ConstantTimeCompare([]byte(pass), want) == 1
	}
	return false
}

func (m *mapAPI) index(w http.ResponseWriter, r *http.Request) {
	b, err := webAssets.ReadFile("web/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// writeJSON answers v as JSON of type ctype, not cached.
func (m *mapAPI) writeJSON(w http.ResponseWriter, ctype string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		m.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

// fail answers 500 for what the caller did not cause, and logs it.
func (m *mapAPI) fail(w http.ResponseWriter, err error) {
	m.log.Warn("http read failed", zap.Error(err))
	http.Error(w, "internal error: "+err.Error(), http.StatusInternalServerError)
}

// geometryJSON is a GeoJSON geometry.
type geometryJSON struct {
	Type        string `json:"type"`
	Coordinates any    `json:"coordinates"`
}

type watchRuleJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Severity string `json:"severity"`
}

type watchPropsJSON struct {
	Name    string          `json:"name"`
	Place   string          `json:"place,omitempty"`
	Shape   string          `json:"shape"` // circle, polygon or corridor
	Center  [2]float64      `json:"center"`
	RadiusM float64         `json:"radius_m,omitempty"` // a circle's
	BufferM float64         `json:"buffer_m,omitempty"` // a polygon's
	WidthM  float64         `json:"width_m,omitempty"`  // a corridor's, each side of its line
	LengthM float64         `json:"length_m,omitempty"` // a corridor's line
	Rules   []watchRuleJSON `json:"rules"`
}

type watchFeatureJSON struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Geometry   geometryJSON   `json:"geometry"`
	Properties watchPropsJSON `json:"properties"`
}

// watches answers the configured watches as a FeatureCollection: a circle as a
// 64-gon with its centre and radius in the properties, a polygon as its
// MultiPolygon, a corridor as its line with its width and length.
func (m *mapAPI) watches(w http.ResponseWriter, _ *http.Request) {
	fc := struct {
		Type     string             `json:"type"`
		Features []watchFeatureJSON `json:"features"`
	}{Type: "FeatureCollection", Features: []watchFeatureJSON{}}
	for _, job := range m.plan.Load().Watches {
		wt := job.Watch
		p := watchPropsJSON{Name: wt.Name, Place: wt.Place, Center: [2]float64{wt.Center.Lon(), wt.Center.Lat()}, Rules: []watchRuleJSON{}}
		for _, r := range wt.Rules {
			p.Rules = append(p.Rules, watchRuleJSON{Name: r.Name, Type: r.Type, Severity: r.Severity.String()})
		}
		var g geometryJSON
		switch s := wt.Shape.(type) {
		case nil:
			p.Shape, p.RadiusM = "circle", wt.RadiusMeters
			g = geometryJSON{"Polygon", geo.Circle{Center: wt.Center, RadiusMeters: wt.RadiusMeters}.Polygon(64)}
		case geo.Circle:
			p.Shape, p.RadiusM, p.Center = "circle", s.RadiusMeters, [2]float64{s.Center.Lon(), s.Center.Lat()}
			g = geometryJSON{"Polygon", s.Polygon(64)}
		case geo.Polygon:
			p.Shape, p.BufferM = "polygon", s.BufferMeters()
			g = geometryJSON{"MultiPolygon", s.MultiPolygon()}
		case geo.Corridor:
			p.Shape, p.WidthM, p.LengthM = "corridor", s.WidthMeters(), s.LengthMeters()
			g = geometryJSON{"MultiLineString", s.MultiLineString()}
		default:
			p.Shape = "point"
			g = geometryJSON{"Point", wt.Center}
		}
		fc.Features = append(fc.Features, watchFeatureJSON{Type: "Feature", ID: wt.Name, Geometry: g, Properties: p})
	}
	m.writeJSON(w, "application/geo+json", fc)
}

// alerts answers the pending and firing alerts, as geowatch alerts --format
// geojson prints them, from the engine's published state.
func (m *mapAPI) alerts(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Cache-Control", "no-store")
	if err := writeAlertsGeoJSON(w, m.engine.OpenAlerts(), nil); err != nil {
		m.log.Debug("http alerts: write", zap.Error(err))
	}
}

// alertObservations answers an open alert's contributing observations (its
// finding's fids) as a FeatureCollection, in time order.
func (m *mapAPI) alertObservations(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, fmt.Sprintf("alert id %q: not a number", r.PathValue("id")), http.StatusBadRequest)
		return
	}
	open := m.engine.OpenAlerts()
	i := slices.IndexFunc(open, func(a monitor.Alert) bool { return a.ID == id })
	if i < 0 {
		http.Error(w, fmt.Sprintf("alert %d: not pending or firing", id), http.StatusNotFound)
		return
	}
	obs, err := m.st.ObservationsByFID(r.Context(), open[i].Finding.FIDs)
	if err != nil {
		m.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	fw, _ := newRowWriter("geojson", bw)
	for _, o := range obs {
		fw.Write(o) //nolint:errcheck // bufio keeps the first error for Flush
	}
	fw.Close()
	bw.Flush()
}

type timelineJSON struct {
	transitionJSON
	Watch    string `json:"watch"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
}

// transitions answers the latest alert transitions, newest first, each with
// its alert's watch, rule and severity: the map's timeline. since (default 7d)
// and limit (default 100, at most 1000) bound it.
func (m *mapAPI) transitions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if bad := unknownParams(q, "since", "limit"); bad != "" {
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	since, err := parseWhen(orDefault(q.Get("since"), "7d"), m.now())
	if err != nil {
		http.Error(w, "since: "+err.Error(), http.StatusBadRequest)
		return
	}
	limit, err := intParam(q, "limit", transitionsRows, maxTransitions)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// The newest alerts changed since then: an old alert that resolved later
	// is among them, since a transition updates its alert.
	as, err := m.st.Alerts(r.Context(), store.AlertFilter{Since: since, Limit: timelineAlerts})
	if err != nil {
		m.fail(w, err)
		return
	}
	byID := make(map[int64]monitor.Alert, len(as))
	ids := make([]int64, 0, len(as))
	for _, a := range as {
		byID[a.ID] = a
		ids = append(ids, a.ID)
	}
	out := []timelineJSON{}
	if len(ids) > 0 {
		ts, err := m.st.Transitions(r.Context(), store.TransitionFilter{AlertIDs: ids, Since: since})
		if err != nil {
			m.fail(w, err)
			return
		}
		for i := len(ts) - 1; i >= 0 && len(out) < limit; i-- {
			t := ts[i]
			a := byID[t.AlertID]
			out = append(out, timelineJSON{transitionJSON: toTransitionJSON(t), Watch: a.Watch, Rule: a.Rule, Severity: a.Severity.String()})
		}
	}
	m.writeJSON(w, "application/json", out)
}

// changes answers what the map polls: the latest observation fid, the latest
// transition id and digests of the open alerts and of the watches, so that it reads the rest only
// when one of them moved.
func (m *mapAPI) changes(w http.ResponseWriter, r *http.Request) {
	fid, tid, err := m.st.Latest(r.Context())
	if err != nil {
		m.fail(w, err)
		return
	}
	h := fnv.New64a()
	for _, a := range m.engine.OpenAlerts() {
		fmt.Fprintf(h, "%d %d %d %d;", a.ID, a.State, a.UpdatedAt.UnixNano(), a.Finding.Count)
	}
	alerts := strconv.FormatUint(h.Sum64(), 16)
	h.Reset()
	for _, job := range m.plan.Load().Watches {
		fmt.Fprintf(h, "%s %s;", job.Watch.Name, job.Fingerprint)
	}
	m.writeJSON(w, "application/json", map[string]any{
		"observation": fid, "transition": tid, "alerts": alerts, "watches": strconv.FormatUint(h.Sum64(), 16),
	})
}

// observations is geowatch query over HTTP: the same selection, resolved by
// the same code, with the watch names as --within's values besides GeoJSON.
func (m *mapAPI) observations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if bad := unknownParams(q, "near", "radius", "within", "filter", "since", "until", "kind", "source", "limit", "format"); bad != "" {
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	for _, k := range []string{"near", "radius", "within", "since", "until", "limit", "format"} {
		if len(q[k]) > 1 {
			http.Error(w, k+": given more than once", http.StatusBadRequest)
			return
		}
	}
	format := orDefault(q.Get("format"), "geojson")
	ctype, ok := map[string]string{"geojson": "application/geo+json", "ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}[format]
	if !ok {
		http.Error(w, fmt.Sprintf("format %q: want geojson, ndjson or csv", format), http.StatusBadRequest)
		return
	}
	limit, err := intParam(q, "limit", httpQueryRows, httpQueryRows)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var kinds, sources, filters listFlag
	for _, v := range q["kind"] {
		kinds.Set(v) //nolint:errcheck // never fails
	}
	for _, v := range q["source"] {
		sources.Set(v) //nolint:errcheck
	}
	filters = q["filter"]
	spec := selectionSpec{Near: q.Get("near"), Radius: q.Get("radius"), Within: q.Get("within"), Since: q.Get("since"),
		Until: q.Get("until"), Filters: filters, Kinds: kinds, Sources: sources, Limit: limit}
	plan := m.plan.Load()
	f, err := spec.resolve(m.now(), selectionEnv{
		param: func(p string) string { return p },
		place: func(name string) (orb.Point, bool, error) {
			pl, ok := plan.Gazetteer.Lookup(name)
			return pl.Point, ok, nil
		},
		placeHint: "give LAT,LON or a place of the daemon's config",
		within: func(v string, filters map[string]string) (monitor.Shape, error) {
			if strings.HasPrefix(strings.TrimSpace(v), "{") {
				return geo.LoadPolygon([]byte(v), filters)
			}
			var names []string
			for _, job := range plan.Watches {
				if job.Watch.Name == v {
					return job.Watch.Area(0), nil
				}
				names = append(names, job.Watch.Name)
			}
			return nil, usageError{fmt.Sprintf("%q: no such watch (watches: %s; or give a GeoJSON polygon)", v, strings.Join(names, ", "))}
		},
	})
	if err == nil && f.Area == nil {
		err = errors.New("near: give near=PLACE|LAT,LON with radius=DISTANCE, or within=WATCH|GEOJSON")
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	rw, err := newRowWriter(format, bw)
	if err == nil {
		err = m.st.Query(r.Context(), f, rw.Write)
	}
	if err == nil {
		err = rw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		if cw.n == 0 && !errors.Is(err, context.Canceled) {
			m.fail(w, err)
			return
		}
		// Part of the answer is out: cut the connection rather than end a
		// document that looks whole.
		m.log.Warn("http query cut short", zap.Error(err))
		panic(http.ErrAbortHandler)
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// unknownParams names the first parameter of q not in known, as an error
// message; "" when all are known.
func unknownParams(q url.Values, known ...string) string {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(known, k) {
			return fmt.Sprintf("%s: unknown parameter (known: %s)", k, strings.Join(known, ", "))
		}
	}
	return ""
}

// intParam reads q's integer parameter name: def when absent or 0, an error
// above most or below 0.
func intParam(q url.Values, name string, def, most int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s %q: not a whole number", name, s)
	case n < 0:
		return 0, fmt.Errorf("%s %d: must not be negative", name, n)
	case n > most:
		return 0, fmt.Errorf("%s %d: at most %d", name, n, most)
	case n == 0:
		return def, nil
	}
	return n, nil
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
