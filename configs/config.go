// Package configs holds geowatch's configuration: the YAML schema, strict parsing
// with errors that name the field and line, validation, and the embedded default
// configuration and demo scenario.
//
// It imports monitor and its sub-packages to build checks, watches and rules from
// what it validated; nothing imports configs but cmd.
package configs

import (
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// DefaultYAML is the embedded default configuration `geowatch run` uses without
// --config: the reference scenario's watches on Vladivostok and the
// Khasan–Tumangang border crossing, fed by a replay of the bundled scenario.
//
//go:embed default.yaml
var DefaultYAML []byte

// Scenario is the bundled demo scenario (configs/scenario/vladivostok.geojson),
// the data of a replay source whose file is "scenario".
//
//go:embed scenario/vladivostok.geojson
var Scenario []byte

// Config is the whole configuration file. Durations are strings such as "30s",
// "6h" or "14d"; distances are strings such as "50km" or "500m".
type Config struct {
	// Database is the SQLite/GeoPackage file (default ./geowatch.gpkg), or a
	// PostgreSQL database with PostGIS: a postgres:// or postgresql:// URL
	// or a libpq key/value string (store.KindOf).
	Database string `yaml:"database"`
	// DatabasePasswordFile is a file holding the PostgreSQL password (its
	// first line), read at each new connection, so that the config and the
	// unit carry no secret (e.g. a systemd credential).
	DatabasePasswordFile string `yaml:"database_password_file"`
	// Durability is "normal" (default: WAL with synchronous=NORMAL) or "full".
	Durability string `yaml:"durability"`
	// WALWarn is the write-ahead log size past which geowatch warns (once per
	// threshold: this, then each doubling), /readyz fails with "wal" and the
	// service status says so; default 256MiB, "0" turns it off.
	WALWarn string `yaml:"wal_warn"`
	// SpatialIndex is "rtree" (the GeoPackage R*Tree on observations, the
	// default for a new file) or "off" (none: faster ingest, GDAL and QGIS
	// scan every row for a spatial filter). Unset, a file keeps what it has.
	SpatialIndex string `yaml:"spatial_index"`
	// WALMax, when set, is the WAL size at which ingest is refused (a push
	// gets 503) rather than the disk filled; default off.
	WALMax string `yaml:"wal_max"`
	// MaxFuture rejects observations dated more than this after they arrive;
	// default 24h, "0s" turns the check off.
	MaxFuture string `yaml:"max_future"`
	// MemoryObservations caps how many recent observations the daemon keeps
	// in memory to answer its rules (default monitor.DefaultRecentLimit); 0
	// keeps none: every evaluation queries the database.
	MemoryObservations *int `yaml:"memory_observations"`
	// Retention, when set (such as "90d"), makes the daemon delete observations,
	// rejects and resolved alerts older than this on RetentionSchedule; default
	// off: everything is kept.
	Retention string `yaml:"retention"`
	// RetentionSchedule is when the daemon prunes, a cron spec or descriptor;
	// default "@hourly". Only with Retention.
	RetentionSchedule string `yaml:"retention_schedule"`
	// Log sets the process log.
	Log LogConfig `yaml:"log"`
	// HTTP, when present, opens the HTTP listener: health, metrics, push.
	HTTP *HTTPConfig `yaml:"http"`
	// Places adds named places to the built-in gazetteer for watches to refer to.
	Places []PlaceConfig `yaml:"places"`
	// Sources are the checks: where observations come from, and when.
	Sources []SourceConfig `yaml:"sources"`
	// Watches are the watched places and their rules.
	Watches []WatchConfig `yaml:"watches"`
	// Subscribers receive alert transitions; default: the process log only.
	Subscribers []SubscriberConfig `yaml:"subscribers"`
}

// LogConfig sets the process log's level and encoding.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // auto (default: console on a terminal, else json), json or console
	// Sink is where the log goes: auto (default: the journal, with structured
	// fields, when stdout is the journal stream systemd set up, else stdout),
	// stdout, or journal (the journal's socket; stdout when it is unreachable).
	Sink string `yaml:"sink"`
}

// PlaceConfig is a named place for watches and the geotagger.
type PlaceConfig struct {
	Name    string   `yaml:"name"`
	Aliases []string `yaml:"aliases"`
	Lat     *float64 `yaml:"lat"`
	Lon     *float64 `yaml:"lon"`
	Country string   `yaml:"country"`
	Class   string   `yaml:"class"`
}

// SourceConfig is one check. Type selects the format; the options below it apply
// to the types named in their comments, and setting one for another type is an
// error.
type SourceConfig struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`     // geojson, csv, rss, spool, replay, push
	Schedule string `yaml:"schedule"` // cron spec or descriptor such as "@every 1m"; not for push
	Timeout  string `yaml:"timeout"`  // per run; default 1m; not for push

	URL  string `yaml:"url"`  // geojson, csv, rss: http(s) URL or file path
	File string `yaml:"file"` // replay: GeoJSON file, or "scenario" (default) for the bundled one
	Dir  string `yaml:"dir"`  // spool: the directory watched
	Lead string `yaml:"lead"` // replay: the last event lands this long after the first run

	Kind   string        `yaml:"kind"`   // geojson, spool, replay, rss, push: kind of records that carry none
	Fields *FieldMapping `yaml:"fields"` // geojson, spool, replay, push: property names

	Preset      string            `yaml:"preset"`        // csv: usgs-csv, gdelt2, gdelt1, acled
	Delimiter   string            `yaml:"delimiter"`     // csv: one character; "\t" for tabs (default ",")
	Header      *bool             `yaml:"header"`        // csv: the first row names the columns
	Columns     []string          `yaml:"columns"`       // csv: names of a headerless file's columns
	MinColumns  int               `yaml:"min_columns"`   // csv: rows may lack trailing columns down to this many
	LazyQuotes  bool              `yaml:"lazy_quotes"`   // csv: accept quotes inside unquoted fields
	Precisions  map[string]string `yaml:"precisions"`    // csv: precision column value → exact|city|region|country
	TimeZone    string            `yaml:"time_zone"`     // csv: IANA name or offset (+03:00) of times written without a zone (default UTC)
	MaxEventLag string            `yaml:"max_event_lag"` // csv: reject rows whose fields.event_time is this long before their time; 0s: off
	KeepRow     bool              `yaml:"keep_row"`      // csv: keep the whole row in properties, not only the columns no field holds

	IDNamespace string `yaml:"id_namespace"` // geojson, csv, rss, spool: ids shared with the sources naming the same namespace; stored once

	Time        string   `yaml:"time"`         // rss: published (default), updated or summary
	TimePattern string   `yaml:"time_pattern"` // rss: with time: summary, a regexp whose first group is the time
	TimeLayout  []string `yaml:"time_layout"`  // rss: with time: summary, Go layouts of that time (default RFC 3339)

	MinConfidence *float64 `yaml:"min_confidence"` // rss: drop geotags below this confidence (default 0.5)
	MaxPlaces     *int     `yaml:"max_places"`     // rss: most places one item yields (default 5)
}

// FieldMapping names the GeoJSON properties or CSV columns a source reads.
// Empty names keep the defaults, which fit USGS's GeoJSON feeds or the CSV
// preset. CSV columns are names from the header (or columns) or "#N", 1-based.
type FieldMapping struct {
	ID         string   `yaml:"id"`          // default: the feature's id
	Time       Strings  `yaml:"time"`        // default: time; csv: a list of columns joined by spaces (date and time)
	TimeFormat string   `yaml:"time_format"` // geojson: auto (default), epoch_ms, epoch_s, rfc3339
	TimeLayout []string `yaml:"time_layout"` // csv: Go layouts tried in order, or epoch_ms / epoch_s
	Lat        string   `yaml:"lat"`         // csv only
	Lon        string   `yaml:"lon"`         // csv only
	Kind       string   `yaml:"kind"`        // default: type
	Place      string   `yaml:"place"`       // default: place
	Text       string   `yaml:"text"`        // default: title
	URL        string   `yaml:"url"`         // default: url
	Weight     string   `yaml:"weight"`      // default: none (weight 1)
	Precision  string   `yaml:"precision"`   // csv only: see precisions

	IDFallback      string   `yaml:"id_fallback"`       // csv only: the id where the id column is empty
	Updated         string   `yaml:"updated"`           // csv only: the record's revision time (usgs-csv: updated)
	EventTime       string   `yaml:"event_time"`        // csv only: when the event happened, for max_event_lag
	EventTimeLayout []string `yaml:"event_time_layout"` // csv only: event_time's layouts (default time_layout)
}

// Strings is one string, or several in a YAML list (a column name or the
// columns joined into a time; an Alertmanager url or several).
type Strings []string

// UnmarshalYAML reads a string or a list of strings.
func (c *Strings) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*c = nil
		if one != "" {
			*c = Strings{one}
		}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return errors.New("want a string or a list of them")
	}
	*c = many
	return nil
}

// First returns the first string, or "".
func (c Strings) First() string {
	if len(c) == 0 {
		return ""
	}
	return c[0]
}

// WatchConfig is a watched place and its rules: a circle around a place name
// known to the gazetteer or explicit lat/lon, or a polygon.
type WatchConfig struct {
	Name     string          `yaml:"name"`
	Place    string          `yaml:"place"`
	Lat      *float64        `yaml:"lat"`
	Lon      *float64        `yaml:"lon"`
	Radius   string          `yaml:"radius"`
	Polygon  *PolygonConfig  `yaml:"polygon"`
	Corridor *CorridorConfig `yaml:"corridor"`
	Schedule string          `yaml:"schedule"` // default "@every 1m"
	// Realtime is how soon after new data lands in the watch's area (grown by
	// its rules' reach) it is evaluated besides its schedule: a debounce such
	// as "1s" (the default), or "off" for the schedule only.
	Realtime string       `yaml:"realtime"`
	Rules    []RuleConfig `yaml:"rules"`
}

// DedupeConfig counts observations of one kind within a distance and a time
// of an earlier one as that one (news and event exports report one event many
// times).
type DedupeConfig struct {
	Within string `yaml:"within"` // distance, e.g. 2km
	Window string `yaml:"window"` // duration after the first report, e.g. 6h
}

// PolygonConfig is a polygon watch: a GeoJSON file (a Polygon, MultiPolygon,
// Feature, or the first feature of a collection whose properties match filter)
// or inline rings of [lon, lat] pairs, optionally grown by buffer.
type PolygonConfig struct {
	File        string            `yaml:"file"`
	Filter      map[string]string `yaml:"filter"`
	Coordinates [][][2]float64    `yaml:"coordinates"` // rings: the first is the exterior, the rest holes
	Buffer      string            `yaml:"buffer"`
}

// CorridorConfig is a corridor watch: a route, from a GeoJSON file (a
// LineString, MultiLineString, Feature, or the first feature of a collection
// whose properties match filter) or inline [lon, lat] pairs (one line, or a list
// of lines taken one after the other), and the width each side of it.
type CorridorConfig struct {
	File        string            `yaml:"file"`
	Filter      map[string]string `yaml:"filter"`
	Coordinates LineCoordinates   `yaml:"coordinates"`
	Width       string            `yaml:"width"` // geodesic distance each side of the line, e.g. 10km
}

// LineCoordinates is a line of [lon, lat] pairs or a list of such lines.
type LineCoordinates [][][2]float64

// UnmarshalYAML reads a LineString's coordinates or a MultiLineString's.
func (l *LineCoordinates) UnmarshalYAML(unmarshal func(any) error) error {
	var one [][2]float64
	if err := unmarshal(&one); err == nil {
		*l = LineCoordinates{one}
		return nil
	}
	var many [][][2]float64
	if err := unmarshal(&many); err != nil {
		return errors.New("want a line of [lon, lat] pairs, or a list of lines")
	}
	*l = many
	return nil
}

// RuleConfig is one rule of a watch and its alerting policy.
type RuleConfig struct {
	Name          string            `yaml:"name"` // default: the type
	Type          string            `yaml:"type"` // count, cluster, surge, scan
	Severity      string            `yaml:"severity"`
	Window        string            `yaml:"window"`
	Kinds         []string          `yaml:"kinds"`
	Sources       []string          `yaml:"sources"`         // default: all
	Precisions    []string          `yaml:"precisions"`      // default: exact, city, region
	For           string            `yaml:"for"`             // pending this long before firing
	KeepFiringFor string            `yaml:"keep_firing_for"` // stay firing this long after the rule stops holding
	Repeat        string            `yaml:"repeat"`          // re-announce a firing alert this often
	Labels        map[string]string `yaml:"labels"`
	Summary       string            `yaml:"summary"` // Go template, e.g. "{{.Count}} reports within {{.RadiusKm}} km of {{.Watch}} in {{.Window}}"
	Dedupe        *DedupeConfig     `yaml:"dedupe"`  // count near-duplicate reports of one event once

	Min       *float64 `yaml:"min"`        // count, surge: (weighted) count threshold
	Eps       string   `yaml:"eps"`        // cluster: neighbourhood distance
	TimeEps   string   `yaml:"time_eps"`   // cluster: neighbourhood time (ST-DBSCAN); default none
	MinPoints *int     `yaml:"min_points"` // cluster: core point threshold

	Baseline string   `yaml:"baseline"` // surge: the period before the window setting the expected rate
	Alpha    *float64 `yaml:"alpha"`    // surge: significance level of the Poisson tail

	Area       string `yaml:"area"`       // scan: study area beyond the watch
	Period     string `yaml:"period"`     // scan: study period (the window)
	MaxRadius  string `yaml:"max_radius"` // scan: largest cylinder radius
	MaxWindow  string `yaml:"max_window"` // scan: longest cylinder duration
	TimeUnit   string `yaml:"time_unit"`  // scan: time aggregation; default 1d
	Replicates *int   `yaml:"replicates"` // scan: Monte Carlo replicates; default 999
	Seed       *int64 `yaml:"seed"`       // scan: random seed; default 0
	Every      string `yaml:"every"`      // scan: evaluation interval for the recurrence interval; default the watch's schedule if @every
	Recurrence string `yaml:"recurrence"` // scan: fire when the recurrence interval is at least this
	Centers    string `yaml:"centers"`    // scan: where cylinders are centred: watch (default) or area

	MinSteps  *int   `yaml:"min_steps"` // progression: steps along the corridor it needs; default 3
	MinGap    string `yaml:"min_gap"`   // progression: least distance along the line between steps
	Speed     string `yaml:"speed"`     // progression: plausible speed range, e.g. 20-120km/h
	Direction string `yaml:"direction"` // progression: forward (default), backward or either
}

// SubscriberConfig is where alert transitions go. The options below Sink apply
// to the sinks named in their comments; setting one for another sink is an error.
type SubscriberConfig struct {
	Name string `yaml:"name"`
	Sink string `yaml:"sink"` // log, file, webhook or alertmanager
	Path string `yaml:"path"` // file: the JSON-lines file
	// File rotation by size, done by geowatch; without max_size the file is never
	// rotated by geowatch (logrotate may move it away).
	MaxSize    int    `yaml:"max_size"`    // file: megabytes (MiB) a file may reach before it is rotated
	MaxBackups *int   `yaml:"max_backups"` // file, with max_size: rotated files kept; default all
	MaxAge     string `yaml:"max_age"`     // file, with max_size: rotated files older than this (such as 30d) are removed
	Compress   bool   `yaml:"compress"`    // file, with max_size: gzip rotated files
	// Webhook: each event is POSTed as the alerts file's JSON object.
	URL     Strings           `yaml:"url"`     // webhook: http(s) URL; alertmanager: one base URL or a list of them
	Timeout string            `yaml:"timeout"` // webhook: per attempt, default 10s; Notify retries within twice this; alertmanager: per request, default 10s
	Headers map[string]string `yaml:"headers"` // webhook, alertmanager: extra request headers, such as Authorization
	// Alertmanager: firing alerts are sent again every resend (default 1m; keep
	// it below Alertmanager's resolve_timeout), and each links to the alert on
	// the map at external_url (default: the http block's listen address).
	Resend      string `yaml:"resend"`
	ExternalURL string `yaml:"external_url"`
	// Filters; empty means every alert.
	Watches     []string          `yaml:"watches"`
	Rules       []string          `yaml:"rules"`
	MinSeverity string            `yaml:"min_severity"`
	Labels      map[string]string `yaml:"labels"` // each must be on the alert (from its rule's labels) with this value
}

// FieldError is a configuration value that failed validation, with where it is.
type FieldError struct {
	Field string // path such as "watches[1].radius"
	Line  int    // 1-based line in the file; 0 when unknown
	Value any
	Err   error
}

func (e *FieldError) Error() string {
	loc := e.Field
	switch {
	case e.Line > 0 && e.Field == "":
		loc = fmt.Sprintf("line %d", e.Line)
	case e.Line > 0:
		loc = fmt.Sprintf("line %d: %s", e.Line, e.Field)
	}
	if e.Value != nil && e.Value != "" {
		return fmt.Sprintf("%s: %v: %v", loc, e.Value, e.Err)
	}
	return fmt.Sprintf("%s: %v", loc, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Sentinel validation errors.
var (
	ErrRequired    = errors.New("required")
	ErrNotPositive = errors.New("must be positive")
	ErrDuplicate   = errors.New("duplicate name")
	ErrUnknown     = errors.New("unknown value")
	ErrNotApplied  = errors.New("not used by this type")
	ErrTooLong     = errors.New("too long")
)

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes data, fills defaults and validates the result. It reports
// every problem of the file at once: unknown and repeated keys, values of the
// wrong kind (checkSchema) and validation errors, as joined *FieldError values
// carrying the line of the offending value. Only a YAML syntax error stops it
// at the first.
func Parse(data []byte) (cfg *Config, err error) {
	// The YAML library panics on some malformed input (found by FuzzParse:
	// testdata/fuzz/FuzzParse); a config must fail with an error, so that a bad
	// file in a reload keeps the running config instead of ending the daemon.
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("config: the YAML decoder failed on this file (%v): check its syntax, and for stray control characters", r)
		}
	}()
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, errors.New(yaml.FormatError(err, false, true))
	}
	var c Config
	var schemaErrs []error
	switch {
	case len(f.Docs) > 1:
		return nil, &FieldError{Line: f.Docs[1].GetToken().Position.Line, Err: errors.New("a config is one YAML document: remove the second")}
	case len(f.Docs) == 1 && f.Docs[0].Body != nil:
		schemaErrs = checkSchema(f.Docs[0].Body)
		if err := yaml.NodeToValue(f.Docs[0].Body, &c, yaml.AllowDuplicateMapKey()); err != nil {
			if len(schemaErrs) > 0 {
				return nil, errors.Join(schemaErrs...)
			}
			return nil, errors.New(yaml.FormatError(err, false, true))
		}
	}
	c.setDefaults()
	verr := c.Validate()
	if verr == nil && len(schemaErrs) == 0 {
		return &c, nil
	}
	errs := schemaErrs
	for _, e := range unjoin(withLines(verr, data)) {
		if !underAny(e, schemaErrs) {
			errs = append(errs, e)
		}
	}
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(lineOfErr(a), lineOfErr(b)) })
	return nil, errors.Join(errs...)
}

// lineOfErr is e's line for sorting; errors without one sort last.
func lineOfErr(e error) int {
	var fe *FieldError
	if errors.As(e, &fe) && fe.Line > 0 {
		return fe.Line
	}
	return math.MaxInt
}

// unjoin lists the errors joined in err.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// underAny reports whether e is a validation error at or below a field that a
// schema error already reported (its value was dropped, so validation sees it
// missing).
func underAny(e error, schemaErrs []error) bool {
	var fe *FieldError
	if !errors.As(e, &fe) {
		return false
	}
	for _, s := range schemaErrs {
		var se *FieldError
		if errors.As(s, &se) && (fe.Field == se.Field || strings.HasPrefix(fe.Field, se.Field+".") || strings.HasPrefix(fe.Field, se.Field+"[")) {
			return true
		}
	}
	return false
}

// withLines fills the Line of every *FieldError in err by finding its field path
// in the document.
func withLines(err error, data []byte) error {
	f, perr := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if perr != nil {
		return err
	}
	for _, e := range unjoin(err) {
		var fe *FieldError
		if errors.As(e, &fe) && fe.Line == 0 {
			fe.Line = lineOf(f, fe.Field)
		}
	}
	return err
}

// lineOf returns the line of the node at field (such as "watches[1].radius"), or of
// its nearest ancestor present in the document.
func lineOf(f *ast.File, field string) int {
	for p := field; p != ""; {
		if path, err := yaml.PathString("$." + p); err == nil {
			if n, err := path.FilterFile(f); err == nil && n != nil {
				return n.GetToken().Position.Line
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}
