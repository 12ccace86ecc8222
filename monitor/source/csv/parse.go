// Package csv reads delimited event exports (CSV, TSV) into monitor
// observations: the USGS catalog CSV, GDELT 1.0 and 2.0 event exports, ACLED
// exports, or any file whose columns Options map. Input may be plain, gzip or
// a zip holding one file, told apart by their magic bytes. Source pulls a file
// from a URL or a path through httpfeed.
//
// It imports monitor, geo, httpfeed and the standard library.
package csv

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// Sentinel errors. The whole-input error wraps ErrNotCSV; a row with the wrong
// number of columns is a reject wrapping ErrColumnCount.
var (
	// ErrNotCSV means the input cannot be read as the configured format: the
	// header lacks a mapped column, the first row of a headerless file does not
	// fit, or the zip or gzip container is broken.
	ErrNotCSV = errors.New("not readable as the configured delimited format")
	// ErrColumnCount means a row has fewer or more columns than the format has.
	ErrColumnCount = errors.New("wrong number of columns")
)

// Time layout names that read a number instead of a date.
const (
	EpochMillis  = "epoch_ms"
	EpochSeconds = "epoch_s"
)

// DefaultTimeLayouts are tried, in order, when Fields.TimeLayout is empty. A
// layout without a zone reads the time as UTC.
var DefaultTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// DefaultMaxBytes caps the decompressed input when Options.MaxBytes is zero.
const DefaultMaxBytes = 1 << 30

// Options describe a delimited format and map its columns onto Observation
// fields. In parentheses, each field's name in the YAML config.
//
// With a Preset, the preset's options apply and the fields set here replace
// them one by one (Header and LazyQuotes can only be turned on). A preset also
// composes fields no single column holds (usgs-csv's text and url, gdelt's
// text, acled's kind and place); mapping such a field replaces the composed
// value. Without a preset, at least Fields.ID, Time, Lat and Lon must be set.
type Options struct {
	// Preset (preset) names a built-in format: see Preset and PresetNames.
	Preset string
	// Delimiter (delimiter) separates columns (default ',').
	Delimiter rune
	// Header (header) says that the first row names the columns.
	Header bool
	// Columns (columns) names the columns of a file without a header, in order.
	// Without a header or Columns, columns are known only as "#1", "#2"…
	Columns []string
	// MinColumns (min_columns) lets rows have fewer columns than the format,
	// down to this many; the missing trailing columns read as empty. Default:
	// every row has all of them. GDELT 1.0 needs it: its older rows lack SOURCEURL.
	MinColumns int
	// LazyQuotes (lazy_quotes) accepts quotes inside unquoted fields, as in
	// formats that never quote (GDELT's tab-separated exports).
	LazyQuotes bool
	// Fields (fields) map columns onto observation fields.
	Fields Fields
	// Precisions (precisions) map values of the Fields.Precision column onto
	// precisions. Without it the column holds precision names ("exact", "city",
	// "region", "country") and an empty value means exact. With it, an empty or
	// unmapped value means the row was not located: it is rejected on that
	// column, never stored as an exact point (GDELT writes 0,0 for rows it could
	// not geocode).
	Precisions map[string]monitor.Precision
	// TimeZone (time_zone) is the zone of times written without one: an IANA
	// name or an offset such as "+03:00" (default UTC).
	TimeZone *time.Location
	// MaxEventLag (max_event_lag) rejects a row, as stale on the
	// Fields.EventTime column, whose event time is more than this before its
	// time: a report today of an event years ago is not activity today. Zero
	// keeps the preset's (gdelt: 3 days); negative turns the check off.
	MaxEventLag time.Duration
	// DefaultKind (default_kind) is the kind of rows whose kind is empty.
	DefaultKind string
	// MaxBytes (max_bytes) caps the input after decompression (default 1 GiB), so
	// that a zip or gzip bomb fails instead of filling memory or disk.
	MaxBytes int64
	// KeepRow (keep_row) keeps the whole row in an observation's properties.
	// By default they hold only what the observation's own fields do not:
	// every column but those a field stores as read (see plan.stored).
	KeepRow bool
}

// Fields map columns onto Observation fields. Each names a column by its name
// (from the header or Options.Columns) or by its 1-based index as "#12". An
// empty name leaves the field unset, or to the preset to compose.
type Fields struct {
	ID string // id; required
	// IDFallback (id_fallback) is read as the id where the ID column is empty;
	// a file without this column has no fallback.
	IDFallback string
	Time       string // time; required
	// TimeColumns (time given as a list) are further columns whose values
	// follow Time's, each after one space, to make the time parsed: a date
	// column and a time column read as "2024-05-01 4:49 AM".
	TimeColumns []string
	// TimeLayout (time_layout) are Go time layouts tried in order, or EpochMillis
	// or EpochSeconds (default DefaultTimeLayouts).
	TimeLayout []string
	Lat, Lon   string // lat, lon: decimal degrees, WGS 84; required
	Kind       string // kind
	Place      string // place
	Text       string // text: the observation's Title
	URL        string // url
	Weight     string // weight: a number; empty values weigh 1
	Precision  string // precision: see Options.Precisions
	// Updated (updated) is the column of the record's revision time, in
	// TimeLayout's layouts: an older revision never replaces a stored newer
	// one. A value that cannot be read leaves the record without one.
	Updated string
	// EventTime (event_time) is the column of when the event happened, where
	// Time is when it was reported; with Options.MaxEventLag it marks stale rows.
	EventTime string
	// EventTimeLayout (event_time_layout) are EventTime's layouts (default
	// TimeLayout).
	EventTimeLayout []string
}

// resolve applies o's preset and defaults, and checks the result.
func (o Options) resolve() (Options, composeFunc, error) {
	var compose composeFunc
	if o.Preset != "" {
		p, ok := presets[o.Preset]
		if !ok {
			return o, nil, fmt.Errorf("preset %q: unknown (want one of %s)", o.Preset, strings.Join(PresetNames(), ", "))
		}
		o = p.opt.Overlay(o)
		compose = p.compose
	}
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if len(o.Fields.TimeLayout) == 0 {
		o.Fields.TimeLayout = DefaultTimeLayouts
	}
	if len(o.Fields.EventTimeLayout) == 0 {
		o.Fields.EventTimeLayout = o.Fields.TimeLayout
	}
	if o.TimeZone == nil {
		o.TimeZone = time.UTC
	}
	switch d := o.Delimiter; {
	case d == '"' || d == '\r' || d == '\n' || d == utf8.RuneError || !utf8.ValidRune(d):
		return o, nil, fmt.Errorf("delimiter %q: not allowed", d)
	case o.Header && len(o.Columns) > 0:
		return o, nil, errors.New("columns: set for a file with a header, which names the columns")
	case o.MinColumns < 0 || len(o.Columns) > 0 && o.MinColumns > len(o.Columns):
		return o, nil, fmt.Errorf("min_columns: %d outside [0, %d]", o.MinColumns, len(o.Columns))
	}
	for _, f := range [...]struct{ yml, ref string }{
		{"id", o.Fields.ID}, {"time", o.Fields.Time}, {"lat", o.Fields.Lat}, {"lon", o.Fields.Lon},
	} {
		if f.ref == "" {
			return o, nil, fmt.Errorf("fields.%s: not set", f.yml)
		}
	}
	if o.MaxEventLag > 0 && o.Fields.EventTime == "" {
		return o, nil, errors.New("max_event_lag: set without fields.event_time")
	}
	return o, compose, nil
}

// Overlay returns o with the options set in with replacing o's, one by one (Header,
// LazyQuotes and KeepRow can only be turned on), as a config's keys replace a
// preset's.
func (o Options) Overlay(with Options) Options {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	if with.Delimiter != 0 {
		o.Delimiter = with.Delimiter
	}
	o.Header = o.Header || with.Header
	o.LazyQuotes = o.LazyQuotes || with.LazyQuotes
	o.KeepRow = o.KeepRow || with.KeepRow
	if with.Columns != nil {
		o.Columns = with.Columns
	}
	if with.MinColumns != 0 {
		o.MinColumns = with.MinColumns
	}
	if with.Precisions != nil {
		o.Precisions = with.Precisions
	}
	if with.MaxBytes != 0 {
		o.MaxBytes = with.MaxBytes
	}
	if with.TimeZone != nil {
		o.TimeZone = with.TimeZone
	}
	if with.MaxEventLag != 0 {
		o.MaxEventLag = with.MaxEventLag
	}
	set(&o.DefaultKind, with.DefaultKind)
	f, g := &o.Fields, with.Fields
	for _, p := range [...]struct {
		dst *string
		v   string
	}{
		{&f.ID, g.ID}, {&f.Time, g.Time}, {&f.Lat, g.Lat}, {&f.Lon, g.Lon}, {&f.Kind, g.Kind},
		{&f.Place, g.Place}, {&f.Text, g.Text}, {&f.URL, g.URL}, {&f.Weight, g.Weight}, {&f.Precision, g.Precision},
		{&f.IDFallback, g.IDFallback}, {&f.EventTime, g.EventTime}, {&f.Updated, g.Updated},
	} {
		set(p.dst, p.v)
	}
	if g.Time != "" {
		// A new time replaces the preset's columns of it, not only the first.
		f.TimeColumns = g.TimeColumns
	}
	if g.TimeLayout != nil {
		f.TimeLayout = g.TimeLayout
	}
	if g.EventTimeLayout != nil {
		f.EventTimeLayout = g.EventTimeLayout
	}
	return o
}

// Validate checks o as Parse would use it: a known preset, a usable
// delimiter, and the required fields mapped. Column names are checked against
// the header only when a file is read.
func (o Options) Validate() error {
	_, _, err := o.resolve()
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

// Parse reads a delimited file, plain, gzip or zipped. Each data row becomes an
// Observation (with its Source left for the caller to set) or a Reject whose
// Record is "line <n>" (the 1-based line where the row starts, counting the
// header) with " (id <id>)" once the id is read, and whose Field is the column
// at fault; so len(Observations)+len(Rejects) is the number of rows. The error
// is only for input that cannot be read at all, and then the batch is empty.
func Parse(r io.Reader, opt Options) (monitor.Batch, error) {
	rd, err := newReader(r, opt)
	if err != nil {
		return monitor.Batch{}, err
	}
	defer rd.close()
	var b monitor.Batch
	for {
		more, err := rd.next(&b)
		if err != nil {
			return monitor.Batch{}, err
		}
		if !more {
			return b, nil
		}
	}
}

// reader reads rows one at a time, so that a Source can emit a huge file in chunks.
type reader struct {
	csv     *csv.Reader
	objects *bufio.Reader // set instead of csv for newline-delimited JSON objects (objects.go)
	in      io.Closer     // the decompressed input
	plan    *plan
	pending []string // the first row of a headerless file, read to learn its width
	line    int      // the line where the last row read starts
	rows    int32    // data rows read so far, for their positions
}

func newReader(r io.Reader, opt Options) (*reader, error) {
	opt, compose, err := opt.resolve()
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	in, err := decode(r, opt.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	br := bufio.NewReaderSize(in, 64<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) { // as Excel writes
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.Comma = opt.Delimiter
	cr.LazyQuotes = opt.LazyQuotes
	cr.FieldsPerRecord = -1 // rows are checked here, so that a short row is one reject
	cr.ReuseRecord = true
	rd := &reader{csv: cr, in: in}
	names := slices.Clone(opt.Columns) // newPlan names a column with an empty name
	if opt.Header || len(names) == 0 {
		rec, err := cr.Read()
		switch {
		case err == io.EOF && !opt.Header:
		case err == io.EOF:
			err = fmt.Errorf("csv: %w: no header row", ErrNotCSV)
		case err != nil:
			err = fmt.Errorf("csv: %w: first row: %w", ErrNotCSV, err)
		case opt.Header:
			names = slices.Clone(rec)
		default:
			rd.pending = slices.Clone(rec)
			rd.line, _ = cr.FieldPos(0)
			names = make([]string, len(rec))
			for i := range names {
				names[i] = "#" + strconv.Itoa(i+1)
			}
		}
		if err != nil {
			in.Close()
			return nil, err
		}
	}
	if rd.plan, err = newPlan(opt, names, compose); err != nil {
		in.Close()
		return nil, fmt.Errorf("csv: %w", err)
	}
	if !opt.Header && len(opt.Columns) > 0 {
		// A headerless file that does not fit its first row is some other file
		// (an HTML error page, another export), not a file of bad rows.
		rec, err := cr.Read()
		switch {
		case err == io.EOF:
		case err != nil:
			err = fmt.Errorf("csv: %w: first row: %w", ErrNotCSV, err)
		case !rd.plan.fits(len(rec)):
			err = fmt.Errorf("csv: %w: first row has %d columns, want %s", ErrNotCSV, len(rec), rd.plan.width())
		default:
			rd.pending = slices.Clone(rec)
			rd.line, _ = cr.FieldPos(0)
		}
		if err != nil {
			in.Close()
			return nil, err
		}
	}
	return rd, nil
}

func (rd *reader) close() { rd.in.Close() }

// next reads one row into b, as an observation or a reject. It returns false
// at the end of the input, and an error only if the input cannot be read on.
func (rd *reader) next(b *monitor.Batch) (bool, error) {
	if rd.objects != nil {
		return rd.nextObject(b)
	}
	rec := rd.pending
	rd.pending = nil
	if rec == nil {
		var err error
		rec, err = rd.csv.Read()
		var pe *csv.ParseError
		switch {
		case err == io.EOF:
			return false, nil
		case errors.As(err, &pe):
			// The reader has skipped the row; it has no text to keep.
			rd.line = pe.StartLine
			b.Rejects = append(b.Rejects, monitor.Reject{Record: "line " + strconv.Itoa(pe.StartLine), Pos: rd.pos(), Field: "row", Err: pe})
			return true, nil
		case err != nil:
			return false, fmt.Errorf("csv: reading past line %d: %w", rd.line, err)
		}
		rd.line, _ = rd.csv.FieldPos(0)
	}
	o, field, err := rd.plan.observe(rec, nil)
	o.Pos = rd.pos()
	if err != nil {
		b.Rejects = append(b.Rejects, rowReject(rd.line, o, field, err, rd.plan.raw(rec)))
		return true, nil
	}
	b.Observations = append(b.Observations, o)
	return true, nil
}

// pos is the position of the row just read, and counts it.
func (rd *reader) pos() monitor.Position {
	p := monitor.Position{Kind: monitor.RecordRow, Index: rd.rows, Line: int32(rd.line)}
	rd.rows++
	return p
}

// composeFunc sets the fields a preset derives from several columns, before the
// mapped fields are read over them.
type composeFunc func(o *monitor.Observation, r row)

// plan is Options resolved against a file's columns: the index of each mapped
// column (-1 when unmapped).
type plan struct {
	names                                 []string
	keys                                  [][]byte // names as JSON object keys, with the colon
	index                                 map[string]int
	min                                   int
	id, time, lat, lon, kind, place, text int
	url, weight, precision                int
	idFallback, eventTime, updated        int
	timeColumns                           []int
	layouts, eventLayouts                 []string
	zone                                  *time.Location
	maxEventLag                           time.Duration
	precisions                            map[string]monitor.Precision
	defaultKind                           string
	delimiter                             rune
	compose                               composeFunc
	keepRow                               bool
	scratch                               []byte // properties' buffer, reused row to row
}

func newPlan(opt Options, names []string, compose composeFunc) (*plan, error) {
	p := &plan{
		names:        names,
		keys:         make([][]byte, len(names)),
		index:        make(map[string]int, len(names)),
		min:          len(names),
		layouts:      opt.Fields.TimeLayout,
		eventLayouts: opt.Fields.EventTimeLayout,
		zone:         opt.TimeZone,
		maxEventLag:  opt.MaxEventLag,
		precisions:   opt.Precisions,
		defaultKind:  opt.DefaultKind,
		delimiter:    opt.Delimiter,
		compose:      compose,
		keepRow:      opt.KeepRow,
	}
	if opt.MinColumns > 0 && opt.MinColumns < p.min {
		p.min = opt.MinColumns
	}
	for i, n := range names {
		if n == "" {
			// An empty header cell; rejects and properties need a name for it.
			n = "#" + strconv.Itoa(i+1)
			names[i] = n
		}
		if _, dup := p.index[n]; !dup {
			p.index[n] = i
		}
		p.keys[i] = append(appendJSONString(nil, n), ':')
	}
	f := opt.Fields
	for _, m := range [...]struct {
		dst      *int
		ref, yml string
	}{
		{&p.id, f.ID, "id"}, {&p.time, f.Time, "time"}, {&p.lat, f.Lat, "lat"}, {&p.lon, f.Lon, "lon"},
		{&p.kind, f.Kind, "kind"}, {&p.place, f.Place, "place"}, {&p.text, f.Text, "text"}, {&p.url, f.URL, "url"},
		{&p.weight, f.Weight, "weight"}, {&p.precision, f.Precision, "precision"},
		{&p.idFallback, f.IDFallback, "id_fallback"}, {&p.eventTime, f.EventTime, "event_time"},
		{&p.updated, f.Updated, "updated"},
	} {
		if m.dst == &p.idFallback && m.ref != "" && !strings.HasPrefix(m.ref, "#") {
			if _, ok := p.index[m.ref]; !ok {
				// A fallback the file lacks (ACLED exports without
				// data_id) leaves the id to its own column.
				p.idFallback = -1
				continue
			}
		}
		i, err := p.column(m.ref)
		if err != nil {
			return nil, fmt.Errorf("fields.%s: %w", m.yml, err)
		}
		*m.dst = i
	}
	for _, ref := range f.TimeColumns {
		i, err := p.column(ref)
		if err != nil {
			return nil, fmt.Errorf("fields.time: %w", err)
		}
		p.timeColumns = append(p.timeColumns, i)
	}
	return p, nil
}

// column finds a column by name or "#index"; -1 for an empty reference.
func (p *plan) column(ref string) (int, error) {
	if ref == "" {
		return -1, nil
	}
	if i, ok := p.index[ref]; ok {
		return i, nil
	}
	if n, ok := strings.CutPrefix(ref, "#"); ok {
		i, err := strconv.Atoi(n)
		if err != nil || i < 1 {
			return 0, fmt.Errorf("column %q: want a name or a 1-based index such as #12", ref)
		}
		if i > len(p.names) {
			return 0, fmt.Errorf("%w: column %s past the last (#%d)", ErrNotCSV, ref, len(p.names))
		}
		return i - 1, nil
	}
	return 0, fmt.Errorf("%w: no column %q", ErrNotCSV, ref)
}

// fits says whether a row of n columns has the format's width.
func (p *plan) fits(n int) bool { return n >= p.min && n <= len(p.names) }

func (p *plan) width() string {
	if p.min == len(p.names) {
		return strconv.Itoa(p.min)
	}
	return fmt.Sprintf("%d to %d", p.min, len(p.names))
}

// row is a record with its columns known by name.
type row struct {
	p   *plan
	rec []string
}

// at returns column i's value; empty for an unmapped or missing column.
func (r row) at(i int) string {
	if i < 0 || i >= len(r.rec) {
		return ""
	}
	return r.rec[i]
}

// get returns the named column's value; empty when the file has no such column.
func (r row) get(name string) string {
	i, ok := r.p.index[name]
	if !ok {
		return ""
	}
	return r.at(i)
}

// observe reads one row. On failure it returns the column at fault (or the
// observation field, for a composed one), an error wrapping a sentinel, and the
// observation as far as it was read, so that the reject can show the id.
//
// props are the observation's properties; nil gives the row as a JSON object
// (see properties).
func (p *plan) observe(rec []string, props []byte) (monitor.Observation, string, error) {
	var o monitor.Observation
	if !p.fits(len(rec)) {
		if len(rec) < p.min {
			return o, p.names[len(rec)], fmt.Errorf("%w: %d, want %s", ErrColumnCount, len(rec), p.width())
		}
		return o, "#" + strconv.Itoa(len(p.names)+1), fmt.Errorf("%w: %d, want %s", ErrColumnCount, len(rec), p.width())
	}
	r := row{p, rec}
	if o.ID = r.at(p.id); o.ID == "" && p.idFallback >= 0 {
		o.ID = r.at(p.idFallback)
	}
	if o.ID == "" {
		if p.idFallback >= 0 {
			return o, p.names[p.id], fmt.Errorf("%w (and %s is empty too)", monitor.ErrMissing, p.names[p.idFallback])
		}
		return o, p.names[p.id], monitor.ErrMissing
	}
	var err error
	ts := r.at(p.time)
	for _, i := range p.timeColumns {
		ts += " " + strings.TrimSpace(r.at(i))
	}
	if o.Time, err = p.parseTime(ts, p.layouts); err != nil {
		return o, p.names[p.time], err
	}
	if p.updated >= 0 {
		if t, err := p.parseTime(r.at(p.updated), p.layouts); err == nil {
			o.Revised = t
		}
	}
	if p.eventTime >= 0 && p.maxEventLag > 0 {
		ev, err := p.parseTime(r.at(p.eventTime), p.eventLayouts)
		if err != nil {
			return o, p.names[p.eventTime], err
		}
		if lag := o.Time.Sub(ev); lag > p.maxEventLag {
			return o, p.names[p.eventTime], fmt.Errorf("%w: event of %s reported %.1f days later (max_event_lag %.1f days)",
				monitor.ErrStale, ev.UTC().Format(time.DateOnly), lag.Hours()/24, p.maxEventLag.Hours()/24)
		}
	}
	lat, err := parseNumber(r.at(p.lat))
	if err != nil {
		return o, p.names[p.lat], err
	}
	lon, err := parseNumber(r.at(p.lon))
	if err != nil {
		return o, p.names[p.lon], err
	}
	o.Point = orb.Point{lon, lat}
	if p.compose != nil {
		p.compose(&o, r)
	}
	for _, m := range [...]struct {
		i   int
		dst *string
	}{{p.kind, &o.Kind}, {p.place, &o.Place}, {p.text, &o.Title}, {p.url, &o.URL}} {
		if m.i >= 0 {
			*m.dst = r.at(m.i)
		}
	}
	if o.Kind == "" {
		o.Kind = p.defaultKind
	}
	if v := strings.TrimSpace(r.at(p.weight)); v != "" {
		if o.Weight, err = parseNumber(v); err != nil {
			return o, p.names[p.weight], err
		}
	}
	if o.Precision, err = p.parsePrecision(r.at(p.precision)); err != nil {
		return o, p.names[p.precision], err
	}
	o.Normalize()
	if o.Properties = props; props == nil {
		o.Properties = p.properties(rec, &o)
	}
	if err := o.Validate(); err != nil {
		var fe *monitor.FieldError
		if !errors.As(err, &fe) {
			return o, "row", err
		}
		// Validate names Observation fields; name the columns they came from.
		field := map[string]int{
			"id": p.id, "time": p.time, "lat": p.lat, "lon": p.lon, "weight": p.weight,
			"kind": p.kind, "place": p.place, "title": p.text, "url": p.url,
		}
		switch i, ok := field[fe.Field]; {
		case fe.Field == "title" && i < 0:
			return o, "text", fe.Err
		case fe.Field == "properties":
			return o, "row", fe.Err
		case ok && i >= 0:
			return o, p.names[i], fe.Err
		}
		return o, fe.Field, fe.Err
	}
	return o, "", nil
}

// parseTime reads a time in the first of layouts that fits, in the plan's
// zone when the layout has none.
func (p *plan) parseTime(s string, layouts []string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, monitor.ErrMissing
	}
	for _, layout := range layouts {
		switch layout {
		case EpochMillis, EpochSeconds:
			if t, ok := parseEpoch(s, layout == EpochSeconds); ok {
				return t, nil
			}
		default:
			if t, err := time.ParseInLocation(layout, s, p.zone); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q fits none of %q", monitor.ErrBadTime, s, layouts)
}

// maxEpochMillis bounds epoch times well past year 9999, so that absurd numbers
// are rejected instead of wrapping around.
const maxEpochMillis = 1e15

func parseEpoch(s string, seconds bool) (time.Time, bool) {
	v, err := strconv.ParseFloat(s, 64)
	ms := v
	if seconds {
		ms *= 1000
	}
	if err != nil || !(math.Abs(ms) <= maxEpochMillis) {
		return time.Time{}, false
	}
	// Split before scaling so the fraction keeps float64's precision.
	whole, frac := math.Modf(v)
	if seconds {
		return time.Unix(int64(whole), int64(frac*1e9)), true
	}
	return time.UnixMilli(int64(whole)).Add(time.Duration(frac * 1e6)), true
}

// parseNumber reads a coordinate or a weight. NaN and infinities parse, for
// Validate to reject with geo's sentinels.
func parseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, monitor.ErrMissing
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a number", monitor.ErrBadValue, s)
	}
	return v, nil
}

func (p *plan) parsePrecision(s string) (monitor.Precision, error) {
	s = strings.TrimSpace(s)
	if p.precisions != nil && s == "" {
		return 0, fmt.Errorf("%w: empty precision code: the record was not located", monitor.ErrNotLocated)
	}
	if s == "" {
		return monitor.PrecisionExact, nil
	}
	if p.precisions == nil {
		pr, err := monitor.ParsePrecision(s)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", monitor.ErrBadValue, err)
		}
		return pr, nil
	}
	pr, ok := p.precisions[s]
	if !ok {
		return 0, fmt.Errorf("%w: precision code %q is not one of the mapped values (%s)", monitor.ErrNotLocated, s, strings.Join(slices.Sorted(maps.Keys(p.precisions)), ", "))
	}
	return pr, nil
}

// properties returns the row as a JSON object of column name to value, in the
// file's column order: every column with KeepRow, else only those whose value
// o does not already hold (see stored); nil when that leaves none.
func (p *plan) properties(rec []string, o *monitor.Observation) []byte {
	out := append(p.scratch[:0], '{')
	for i, v := range rec {
		if !p.keepRow && p.stored(i, v, o) {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, p.keys[i]...)
		out = appendJSONString(out, v)
	}
	p.scratch = out
	if len(out) == 1 {
		return nil
	}
	return append(append(make([]byte, 0, len(out)+1), out...), '}') // exactly sized: it lives as long as the row
}

// stored reports whether o's own fields already hold column i's value v, so
// that properties need not repeat it: an empty value; the time columns,
// updated (once parsed), lat, lon and weight, which the fields hold parsed;
// the id, id fallback, kind, place, text and url columns when the field holds
// v unchanged (a preset's composition or the replacement of control
// characters changes it, and then the column is kept); and precision when it
// holds precision names, not codes that a precisions map reads.
func (p *plan) stored(i int, v string, o *monitor.Observation) bool {
	switch {
	case strings.TrimSpace(v) == "":
		return true
	case i == p.time || i == p.lat || i == p.lon || i == p.weight || slices.Contains(p.timeColumns, i):
		return true
	case i == p.updated:
		return !o.Revised.IsZero()
	case i == p.id || i == p.idFallback:
		return o.ID == v
	case i == p.kind:
		return o.Kind == v
	case i == p.place:
		return o.Place == v
	case i == p.text:
		return o.Title == v
	case i == p.url:
		return o.URL == v
	case i == p.precision:
		return p.precisions == nil
	}
	return false
}

// raw writes the row back as delimited text, to keep with its reject.
func (p *plan) raw(rec []string) string {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Comma = p.delimiter
	_ = w.Write(rec) // writes to a buffer cannot fail, and the delimiter is valid
	w.Flush()
	return monitor.RawRecord(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// so that the properties stay valid JSON whatever the row held.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// rowReject is the reject of the row at line that could not be an
// observation: "line N (id X)" when its id could be read, on field.
func rowReject(line int, o monitor.Observation, field string, err error, raw string) monitor.Reject {
	record := "line " + strconv.Itoa(line)
	if o.ID != "" {
		record += " (id " + monitor.EchoID(o.ID) + ")"
	}
	return monitor.Reject{Record: record, Pos: o.Pos, Field: field, Err: err, Raw: raw}
}
