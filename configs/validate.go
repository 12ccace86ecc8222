package configs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/geo/gazetteer"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/monitor/sink"
	"github.com/geowatch/geowatch/store"
	"github.com/paulmach/orb"
)

// Defaults for what a config leaves out.
const (
	DefaultDatabase      = "./geowatch.gpkg"
	DefaultWatchSchedule = "@every 1m"
	DefaultCheckTimeout  = time.Minute
	// DefaultRetentionSchedule is when the daemon prunes with retention set.
	DefaultRetentionSchedule = "@hourly"
)

// Plan is a validated configuration turned into the values the daemon runs.
type Plan struct {
	Database             string
	DatabasePasswordFile string // PostgreSQL only
	FullSync             bool   // durability: full
	// SpatialIndex is spatial_index: "rtree", "off", or "" (keep the file's).
	SpatialIndex string
	MaxFuture    time.Duration
	// MemoryObservations caps the recent observations kept in memory.
	MemoryObservations int
	// WALWarnBytes and WALMaxBytes are wal_warn and wal_max; 0 is off.
	WALWarnBytes, WALMaxBytes int64
	LogLevel                  string
	LogFormat                 string
	LogSink                   string // auto, stdout or journal
	Gazetteer                 *gazetteer.Gazetteer
	Checks                    []daemon.Check
	Watches                   []daemon.WatchJob
	Subscribers               []Subscriber
	// HTTP is the http block; nil without one (no listener).
	HTTP *HTTP
	// Push is the push source, served on the HTTP listener; nil without one.
	Push *Push
	// Retention is how long rows are kept (store.Prune); zero keeps them all.
	Retention time.Duration
	// RetentionSchedule is when the daemon prunes; set only with Retention.
	RetentionSchedule string
}

// Subscriber is a validated subscriber: its sink and its filter.
type Subscriber struct {
	Name     string
	Sink     string // "log", "file", "webhook" or "alertmanager"
	Path     string // file
	Rotation sink.Rotation
	URL      string // webhook
	Webhook  sink.WebhookOptions
	// URLs are an alertmanager subscriber's Alertmanagers.
	URLs         []string
	Alertmanager sink.AlertmanagerOptions
	Filter       monitor.Filter
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidName reports whether name is acceptable as a source, watch, rule or
// subscriber name: letters, digits, '_', '.' and '-', at most 64.
func ValidName(name string) bool { return nameRE.MatchString(name) }

func (c *Config) setDefaults() {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Durability == "" {
		c.Durability = "normal"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "auto"
	}
	if c.Log.Sink == "" {
		c.Log.Sink = "auto"
	}
	if len(c.Subscribers) == 0 {
		c.Subscribers = []SubscriberConfig{{Name: "log", Sink: "log"}}
	}
	for i := range c.Watches {
		w := &c.Watches[i]
		if w.Schedule == "" {
			w.Schedule = DefaultWatchSchedule
		}
		for j := range w.Rules {
			if w.Rules[j].Name == "" {
				w.Rules[j].Name = w.Rules[j].Type
			}
			if w.Rules[j].Severity == "" {
				w.Rules[j].Severity = "warning"
			}
		}
	}
}

// Validate checks the whole configuration and returns every problem found, each a
// *FieldError, joined.
func (c *Config) Validate() error {
	_, err := c.Build()
	return err
}

// Build validates the configuration and builds the plan the daemon runs. It reads
// files the config names (a replay file) but starts nothing.
func (c *Config) Build() (*Plan, error) {
	b := builder{plan: &Plan{
		Database:  c.Database,
		FullSync:  c.Durability == "full",
		LogLevel:  c.Log.Level,
		LogFormat: c.Log.Format,
		LogSink:   c.Log.Sink,
		Gazetteer: gazetteer.Default(),
	}}
	b.plan.MaxFuture = monitor.DefaultMaxFuture
	b.plan.WALWarnBytes = b.size("wal_warn", c.WALWarn, DefaultWALWarnBytes)
	b.plan.WALMaxBytes = b.size("wal_max", c.WALMax, 0)
	if w, m := b.plan.WALWarnBytes, b.plan.WALMaxBytes; m > 0 && w > m {
		b.fail("wal_max", c.WALMax, fmt.Errorf("below wal_warn (%s)", c.WALWarn))
	}
	if c.MaxFuture != "" {
		b.plan.MaxFuture = b.optDuration("max_future", c.MaxFuture)
	}
	b.plan.MemoryObservations = monitor.DefaultRecentLimit
	if n := c.MemoryObservations; n != nil {
		if *n < 0 {
			b.fail("memory_observations", *n, errors.New("must be 0 or more"))
		}
		b.plan.MemoryObservations = *n
	}
	b.plan.DatabasePasswordFile = c.DatabasePasswordFile
	if c.DatabasePasswordFile != "" && store.KindOf(c.Database) != store.PostgreSQL {
		b.fail("database_password_file", c.DatabasePasswordFile, errors.New("only for a PostgreSQL database (database: postgres://…)"))
	}
	b.plan.SpatialIndex = c.SpatialIndex
	if c.SpatialIndex != "" && c.SpatialIndex != "rtree" && c.SpatialIndex != "off" {
		b.fail("spatial_index", c.SpatialIndex, fmt.Errorf("%w: want rtree or off", ErrUnknown))
	}
	if c.Durability != "normal" && c.Durability != "full" {
		b.fail("durability", c.Durability, fmt.Errorf("%w: want normal or full", ErrUnknown))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		b.fail("log.level", c.Log.Level, fmt.Errorf("%w: want debug, info, warn or error", ErrUnknown))
	}
	if c.Log.Format != "json" && c.Log.Format != "console" && c.Log.Format != "auto" {
		b.fail("log.format", c.Log.Format, fmt.Errorf("%w: want auto, json or console", ErrUnknown))
	}
	if c.Log.Sink != "auto" && c.Log.Sink != "stdout" && c.Log.Sink != "journal" {
		b.fail("log.sink", c.Log.Sink, fmt.Errorf("%w: want auto, stdout or journal", ErrUnknown))
	}
	b.retention(c)
	b.http(c.HTTP)
	for i, p := range c.Places {
		b.place(fmt.Sprintf("places[%d]", i), p)
	}
	seen := map[string]string{}
	for i, s := range c.Sources {
		path := fmt.Sprintf("sources[%d]", i)
		b.unique(seen, path, s.Name)
		b.source(path, s)
	}
	b.checkPush()
	seen = map[string]string{}
	watches := map[string]bool{}
	for i, w := range c.Watches {
		path := fmt.Sprintf("watches[%d]", i)
		b.unique(seen, path, w.Name)
		watches[w.Name] = true
		b.watch(path, w)
	}
	seen = map[string]string{}
	for i, s := range c.Subscribers {
		path := fmt.Sprintf("subscribers[%d]", i)
		b.unique(seen, path, s.Name)
		b.subscriber(path, s, watches)
	}
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	return b.plan, nil
}

// retention validates retention and its schedule. A retention shorter than a
// rule's window would delete observations the rule still counts.
func (b *builder) retention(c *Config) {
	if c.Retention == "" {
		if c.RetentionSchedule != "" {
			b.fail("retention_schedule", c.RetentionSchedule, fmt.Errorf("%w: retention is not set", ErrNotApplied))
		}
		return
	}
	d := b.duration("retention", c.Retention, 0)
	spec := c.RetentionSchedule
	if spec == "" {
		spec = DefaultRetentionSchedule
	}
	b.schedule("retention_schedule", spec)
	if d <= 0 {
		return
	}
	for i, w := range c.Watches {
		for j, r := range w.Rules {
			if win, err := ParseDuration(r.Window); err == nil && win > d {
				b.fail("retention", c.Retention, fmt.Errorf("shorter than watches[%d].rules[%d].window %s: the rule would miss observations", i, j, r.Window))
				return
			}
		}
	}
	b.plan.Retention, b.plan.RetentionSchedule = d, spec
}

// builder accumulates the plan and every error found on the way.
type builder struct {
	plan     *Plan
	errs     []error
	pushPath string // the push source's path, once one is seen
	// corridorGiven is whether the watch being built was given a corridor,
	// so that a corridor that failed is not also reported at its rules.
	corridorGiven bool
}

func (b *builder) fail(field string, value any, err error) {
	b.errs = append(b.errs, &FieldError{Field: field, Value: value, Err: err})
}

func (b *builder) unique(seen map[string]string, path, name string) {
	switch {
	case name == "":
		b.fail(path+".name", nil, ErrRequired)
	case !nameRE.MatchString(name):
		b.fail(path+".name", name, errors.New("use letters, digits, '_', '.' and '-' (at most 64)"))
	case seen[name] != "":
		b.fail(path+".name", name, fmt.Errorf("%w: also at %s", ErrDuplicate, seen[name]))
	default:
		seen[name] = path
	}
}

// DefaultWALWarnBytes is wal_warn's default.
const DefaultWALWarnBytes = 256 << 20

// size reads an optional byte size; "0" is allowed (off).
func (b *builder) size(field, s string, def int64) int64 {
	if s == "" {
		return def
	}
	n, err := ParseSize(s)
	if err != nil {
		b.fail(field, nil, err)
		return def
	}
	return n
}

func (b *builder) duration(field, s string, def time.Duration) time.Duration {
	if s == "" {
		if def == 0 {
			b.fail(field, nil, ErrRequired)
		}
		return def
	}
	d, err := ParseDuration(s)
	if err != nil {
		b.fail(field, nil, err)
		return def
	}
	if d <= 0 {
		b.fail(field, s, ErrNotPositive)
	}
	return d
}

func (b *builder) distance(field, s string) float64 {
	if s == "" {
		b.fail(field, nil, ErrRequired)
		return 0
	}
	m, err := geo.ParseDistance(s)
	if err != nil {
		b.fail(field, nil, err)
	}
	return m
}

func (b *builder) schedule(field, spec string) {
	if spec == "" {
		b.fail(field, nil, ErrRequired)
		return
	}
	if _, err := daemon.ParseSchedule(spec); err != nil {
		b.fail(field, spec, err)
	}
}

// DefaultRealtime is how soon a watch is evaluated after new data in its area
// when its realtime is not set: short enough that push → alert stays within a
// second (measured p99 542 ms at 500ms; 1.036 s at 1s), long enough that a
// burst of pushes is one evaluation.
const DefaultRealtime = 500 * time.Millisecond

// maxRealtime bounds a watch's realtime: longer than this, its schedule is the
// better tool.
const maxRealtime = time.Hour

// realtime reads a watch's realtime: a positive duration up to an hour, or
// "off" (zero: evaluated on its schedule only).
func (b *builder) realtime(field, s string) time.Duration {
	switch s {
	case "":
		return DefaultRealtime
	case "off":
		return 0
	}
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		b.fail(field, s, fmt.Errorf("%w (or \"off\")", err))
		return 0
	case d <= 0:
		b.fail(field, s, fmt.Errorf("%w (use \"off\" to evaluate on the schedule only)", ErrNotPositive))
		return 0
	case d > maxRealtime:
		b.fail(field, s, fmt.Errorf("%w: at most %s; use the schedule for longer", ErrTooLong, maxRealtime))
		return 0
	}
	return d
}

func (b *builder) point(path string, lat, lon *float64) (orb.Point, bool) {
	if lat == nil || lon == nil {
		b.fail(path+".lat", nil, fmt.Errorf("%w: lat and lon", ErrRequired))
		return orb.Point{}, false
	}
	ok := true
	if err := geo.CheckLatitude(*lat); err != nil {
		b.fail(path+".lat", *lat, err)
		ok = false
	}
	if err := geo.CheckLongitude(*lon); err != nil {
		b.fail(path+".lon", *lon, err)
		ok = false
	}
	return orb.Point{*lon, *lat}, ok
}

func (b *builder) place(path string, p PlaceConfig) {
	if p.Name == "" {
		b.fail(path+".name", nil, ErrRequired)
	}
	pt, ok := b.point(path, p.Lat, p.Lon)
	if !ok || p.Name == "" {
		return
	}
	class := p.Class
	if class == "" {
		class = "place"
	}
	if err := b.plan.Gazetteer.Add(gazetteer.Place{Name: p.Name, Aliases: p.Aliases, Point: pt, Country: p.Country, Class: class}); err != nil {
		b.fail(path, nil, err)
	}
}

func (b *builder) watch(path string, w WatchConfig) {
	job := daemon.WatchJob{Schedule: w.Schedule, Fingerprint: fingerprint(w)}
	mw := &monitor.Watch{Name: w.Name, Place: w.Place}
	hasPoint := w.Place != "" || w.Lat != nil || w.Lon != nil
	switch {
	case w.Corridor != nil && (hasPoint || w.Radius != "" || w.Polygon != nil):
		b.fail(path+".corridor", nil, errors.New("a watch is either a corridor, a polygon or a place/lat/lon with a radius, not more than one"))
	case w.Corridor != nil:
		if c, ok := b.corridor(path+".corridor", w.Corridor); ok {
			mw.Shape, mw.Center = c, c.Midpoint()
		}
	case w.Polygon != nil && (hasPoint || w.Radius != ""):
		b.fail(path+".polygon", nil, errors.New("a watch is either a polygon or a place/lat/lon with a radius, not both"))
	case w.Polygon != nil:
		if pg, ok := b.polygon(path+".polygon", w.Polygon); ok {
			mw.Shape, mw.Center = pg, pg.Centroid()
		}
	case w.Place != "" && (w.Lat != nil || w.Lon != nil):
		b.fail(path+".place", w.Place, errors.New("give either place or lat/lon, not both"))
	case w.Place != "":
		p, ok := b.plan.Gazetteer.Lookup(w.Place)
		if !ok {
			b.fail(path+".place", w.Place, fmt.Errorf("%w: not in the gazetteer (add it under places)", ErrUnknown))
		}
		mw.Center = p.Point
		mw.RadiusMeters = b.distance(path+".radius", w.Radius)
	default:
		mw.Center, _ = b.point(path, w.Lat, w.Lon)
		mw.RadiusMeters = b.distance(path+".radius", w.Radius)
	}
	b.schedule(path+".schedule", w.Schedule)
	job.Realtime = b.realtime(path+".realtime", w.Realtime)
	if len(w.Rules) == 0 {
		b.fail(path+".rules", nil, fmt.Errorf("%w: at least one rule", ErrRequired))
	}
	names := map[string]string{}
	b.corridorGiven = w.Corridor != nil
	for j, rc := range w.Rules {
		rpath := fmt.Sprintf("%s.rules[%d]", path, j)
		b.unique(names, rpath, rc.Name)
		if r, ok := b.rule(rpath, rc, w.Schedule, mw); ok {
			mw.Rules = append(mw.Rules, r)
		}
	}
	job.Watch = mw
	b.plan.Watches = append(b.plan.Watches, job)
}

// polygon builds a polygon watch's shape from a GeoJSON file or inline rings.
func (b *builder) polygon(path string, pc *PolygonConfig) (geo.Polygon, bool) {
	var pg geo.Polygon
	switch {
	case pc.File != "" && pc.Coordinates != nil:
		b.fail(path+".coordinates", nil, errors.New("give either file or coordinates, not both"))
		return pg, false
	case pc.File != "":
		data, err := os.ReadFile(pc.File)
		if err != nil {
			b.fail(path+".file", nil, err)
			return pg, false
		}
		if pg, err = geo.LoadPolygon(data, pc.Filter); err != nil {
			b.fail(path+".file", pc.File, err)
			return pg, false
		}
	case len(pc.Coordinates) > 0:
		if pc.Filter != nil {
			b.fail(path+".filter", nil, fmt.Errorf("%w (inline coordinates)", ErrNotApplied))
		}
		poly := make(orb.Polygon, len(pc.Coordinates))
		for i, ring := range pc.Coordinates {
			if len(ring) < 3 {
				b.fail(fmt.Sprintf("%s.coordinates[%d]", path, i), nil, errors.New("a ring needs at least 3 points"))
				return pg, false
			}
			for j, c := range ring {
				if err := geo.CheckPoint(orb.Point(c)); err != nil {
					b.fail(fmt.Sprintf("%s.coordinates[%d][%d]", path, i, j), c, err)
					return pg, false
				}
				poly[i] = append(poly[i], orb.Point(c))
			}
		}
		pg = geo.NewPolygon(orb.MultiPolygon{poly})
	default:
		b.fail(path, nil, fmt.Errorf("%w: file or coordinates", ErrRequired))
		return pg, false
	}
	if pc.Buffer != "" {
		pg = pg.Buffered(b.distance(path+".buffer", pc.Buffer))
	}
	return pg, true
}

// corridor builds a corridor watch's shape from a GeoJSON file or inline lines.
func (b *builder) corridor(path string, cc *CorridorConfig) (geo.Corridor, bool) {
	var ml orb.MultiLineString
	switch {
	case cc.File != "" && cc.Coordinates != nil:
		b.fail(path+".coordinates", nil, errors.New("give either file or coordinates, not both"))
		return geo.Corridor{}, false
	case cc.File != "":
		data, err := os.ReadFile(cc.File)
		if err != nil {
			b.fail(path+".file", nil, err)
			return geo.Corridor{}, false
		}
		if ml, err = geo.LoadLine(data, cc.Filter); err != nil {
			b.fail(path+".file", cc.File, err)
			return geo.Corridor{}, false
		}
	case len(cc.Coordinates) > 0:
		if cc.Filter != nil {
			b.fail(path+".filter", nil, fmt.Errorf("%w (inline coordinates)", ErrNotApplied))
		}
		for i, line := range cc.Coordinates {
			if len(line) < 2 {
				b.fail(fmt.Sprintf("%s.coordinates[%d]", path, i), nil, errors.New("a line needs at least 2 points"))
				return geo.Corridor{}, false
			}
			var ls orb.LineString
			for j, c := range line {
				if err := geo.CheckPoint(orb.Point(c)); err != nil {
					b.fail(fmt.Sprintf("%s.coordinates[%d][%d]", path, i, j), c, err)
					return geo.Corridor{}, false
				}
				ls = append(ls, orb.Point(c))
			}
			ml = append(ml, ls)
		}
	default:
		b.fail(path, nil, fmt.Errorf("%w: file or coordinates", ErrRequired))
		return geo.Corridor{}, false
	}
	width := b.distance(path+".width", cc.Width)
	if width <= 0 {
		return geo.Corridor{}, false
	}
	c, err := geo.NewCorridor(ml, width)
	if err != nil {
		b.fail(path, nil, err)
		return geo.Corridor{}, false
	}
	return c, true
}

func (b *builder) subscriber(path string, s SubscriberConfig, watches map[string]bool) {
	sub := Subscriber{Name: s.Name, Sink: s.Sink, Path: s.Path}
	// Options that only some sinks read; setting one elsewhere is a mistake worth
	// reporting rather than ignoring.
	used := map[string]bool{}
	switch s.Sink {
	case "log":
	case "file":
		used["path"], used["max_size"] = true, true
		if s.Path == "" {
			b.fail(path+".path", nil, ErrRequired)
		}
		sub.Rotation = b.rotation(path, s)
		if s.MaxSize > 0 {
			used["max_backups"], used["max_age"], used["compress"] = true, true, true
		}
	case "webhook":
		used["url"], used["timeout"], used["headers"] = true, true, true
		sub.URL = s.URL.First()
		if len(s.URL) > 1 {
			b.fail(path+".url", nil, errors.New("a webhook takes one url (give each its own subscriber)"))
		}
		sub.Webhook = b.webhook(path, s)
	case "alertmanager":
		used["url"], used["timeout"], used["headers"], used["resend"], used["external_url"] = true, true, true, true, true
		sub.URLs = s.URL
		sub.Alertmanager = b.alertmanager(path, s)
	case "":
		b.fail(path+".sink", nil, fmt.Errorf("%w: log, file, webhook or alertmanager", ErrRequired))
	default:
		b.fail(path+".sink", s.Sink, fmt.Errorf("%w: want log, file, webhook or alertmanager", ErrUnknown))
	}
	if s.Sink != "" {
		for field, set := range map[string]bool{
			"path": s.Path != "", "max_size": s.MaxSize != 0, "max_backups": s.MaxBackups != nil,
			"max_age": s.MaxAge != "", "compress": s.Compress,
			"url": len(s.URL) > 0, "timeout": s.Timeout != "", "headers": s.Headers != nil,
			"resend": s.Resend != "", "external_url": s.ExternalURL != "",
		} {
			if set && !used[field] {
				why := s.Sink
				if s.Sink == "file" {
					why = "file without max_size"
				}
				b.fail(path+"."+field, nil, fmt.Errorf("%w (%s)", ErrNotApplied, why))
			}
		}
	}
	for k, w := range s.Watches {
		if !watches[w] {
			b.fail(fmt.Sprintf("%s.watches[%d]", path, k), w, fmt.Errorf("%w: no such watch", ErrUnknown))
		}
	}
	sub.Filter.Watches = s.Watches
	sub.Filter.Rules = s.Rules
	if s.MinSeverity != "" {
		sev, err := monitor.ParseSeverity(s.MinSeverity)
		if err != nil {
			b.fail(path+".min_severity", nil, err)
		}
		sub.Filter.MinSeverity = sev
	}
	for k := range s.Labels {
		if k == "" {
			b.fail(path+".labels", nil, errors.New("empty label name"))
		}
	}
	if len(s.Labels) > 0 {
		sub.Filter.Labels = s.Labels
	}
	b.plan.Subscribers = append(b.plan.Subscribers, sub)
}

// rotation reads a file subscriber's rotation options.
func (b *builder) rotation(path string, s SubscriberConfig) sink.Rotation {
	r := sink.Rotation{MaxSizeMB: s.MaxSize, Compress: s.Compress}
	if s.MaxSize < 0 {
		b.fail(path+".max_size", s.MaxSize, ErrNotPositive)
	}
	if s.MaxBackups != nil {
		if *s.MaxBackups < 0 {
			b.fail(path+".max_backups", *s.MaxBackups, errors.New("must not be negative"))
		}
		r.MaxBackups = *s.MaxBackups
	}
	if s.MaxAge != "" {
		r.MaxAge = b.duration(path+".max_age", s.MaxAge, 0)
	}
	return r
}

// webhook reads a webhook subscriber's options and checks its URL.
func (b *builder) webhook(path string, s SubscriberConfig) sink.WebhookOptions {
	opt := sink.WebhookOptions{Timeout: sink.DefaultWebhookTimeout}
	if s.Timeout != "" {
		opt.Timeout = b.duration(path+".timeout", s.Timeout, sink.DefaultWebhookTimeout)
	}
	if len(s.URL) == 0 {
		b.fail(path+".url", nil, ErrRequired)
	} else if _, err := sink.NewWebhook(s.URL[0], opt); err != nil {
		// The error names only the URL's scheme and host: the rest may be a secret.
		b.fail(path+".url", nil, err)
	}
	b.headers(path, s.Headers)
	opt.Headers = s.Headers
	return opt
}

func (b *builder) headers(path string, headers map[string]string) {
	for k, v := range headers {
		if !headerName.MatchString(k) {
			b.fail(path+".headers", k, errors.New("not a valid header name"))
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			b.fail(path+".headers."+k, nil, errors.New("header value has a line break or NUL"))
		}
	}
}

// alertmanager reads an alertmanager subscriber's options and checks its
// URLs. Without external_url, generatorURL links to the http block's listen
// address (a wildcard host becomes this host's name); with neither, alerts
// carry no generatorURL.
func (b *builder) alertmanager(path string, s SubscriberConfig) sink.AlertmanagerOptions {
	opt := sink.AlertmanagerOptions{Timeout: sink.DefaultAlertmanagerTimeout, Resend: sink.DefaultAlertmanagerResend}
	if s.Timeout != "" {
		opt.Timeout = b.duration(path+".timeout", s.Timeout, sink.DefaultAlertmanagerTimeout)
	}
	if s.Resend != "" {
		opt.Resend = b.duration(path+".resend", s.Resend, sink.DefaultAlertmanagerResend)
	}
	opt.ExternalURL = s.ExternalURL
	if opt.ExternalURL == "" && b.plan.HTTP != nil {
		opt.ExternalURL = listenURL(b.plan.HTTP.Listen)
	}
	if len(s.URL) == 0 {
		b.fail(path+".url", nil, ErrRequired)
	}
	seen := map[string]bool{}
	for i, u := range s.URL {
		field := path + ".url"
		if len(s.URL) > 1 {
			field = fmt.Sprintf("%s.url[%d]", path, i)
		}
		if seen[u] {
			b.fail(field, nil, errors.New("listed twice"))
		}
		seen[u] = true
		if err := sink.CheckAlertmanagerURL(u); err != nil {
			b.fail(field, nil, err)
		}
	}
	if s.ExternalURL != "" {
		if err := sink.CheckExternalURL(s.ExternalURL); err != nil {
			b.fail(path+".external_url", nil, err)
		}
	}
	b.headers(path, s.Headers)
	opt.Headers = s.Headers
	return opt
}

// listenURL is the http:// URL of a listen address; a wildcard or empty host
// is this host's name.
func listenURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if host, err = os.Hostname(); err != nil {
			return ""
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// headerName is an HTTP field name: an RFC 9110 token.
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// fingerprint identifies a config item's content, so a reload can tell unchanged
// checks and watches (which keep their state) from changed ones.
func fingerprint(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // config structs always marshal
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
