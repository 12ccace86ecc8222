package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/paulmach/orb"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// outTime is how query and export print times: the store's own fixed-width UTC
// form, so that text order is time order and values compare with SQL's.
const outTime = "2006-01-02T15:04:05.000Z"

// jsonTime is a time in the commands' JSON output, written as outTime (UTC,
// milliseconds, fixed width), so that a script can sort or compare the strings.
type jsonTime struct{ time.Time }

func (t jsonTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(outTime) + `"`), nil
}

func (t *jsonTime) UnmarshalJSON(b []byte) error { return t.Time.UnmarshalJSON(b) }

// optTime is t for JSON output, or nil (null) for the zero time: a time that
// never was.
func optTime(t time.Time) *jsonTime {
	if t.IsZero() {
		return nil
	}
	return &jsonTime{t}
}

// tableFlushRows is how many rows the table format aligns at a time: tabwriter
// holds its input until a flush, and query must not hold a whole result.
const tableFlushRows = 1000

// listFlag is a flag that may repeat and takes comma-separated lists.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// selection holds the flags that query and export share: where the database
// is, and which observations to select.
type selection struct {
	cmd                                                 string
	cfgPath, dbPath, near, radius, within, since, until *string
	limit                                               *int
	filters, kinds, sources                             listFlag
}

func addSelectionFlags(fs *flag.FlagSet, cmd string) *selection {
	s := &selection{
		cmd:     cmd,
		cfgPath: fs.String("config", "", "config `FILE` naming the database and the gazetteer's places (default: the embedded default config)"),
		dbPath:  fs.String("db", "", "database: a SQLite `PATH` or a postgres:// URL (default: the config's database)"),
		near:    fs.String("near", "", "observations near `PLACE` (a gazetteer name) or LAT,LON; with --radius"),
		radius:  fs.String("radius", "", "`DISTANCE` from --near, such as 50km or 500m"),
		within:  fs.String("within", "", "observations inside the polygon of GeoJSON `FILE` (its first feature that --filter matches)"),
		since:   fs.String("since", "", "observed at or after `TIME`: RFC 3339, or a duration back from now (24h, 7d)"),
		until:   fs.String("until", "", "observed before `TIME`: RFC 3339, or a duration back from now"),
		limit:   fs.Int("limit", 0, "at most `N` rows, the earliest (0: all)"),
	}
	fs.Var(&s.filters, "filter", "`KEY=VALUE` a --within feature's property must have (repeatable)")
	fs.Var(&s.kinds, "kind", "only `KIND` (repeatable or a comma list)")
	fs.Var(&s.sources, "source", "only from `SOURCE` (repeatable or a comma list)")
	return s
}

// filter builds the store filter; now anchors --since and --until durations.
// plan is loaded only when something needs it (the database, a place name).
func (s *selection) filter(now time.Time) (f store.QueryFilter, dbFile string, err error) {
	var plan *configs.Plan
	loadPlan := func() error {
		if plan == nil {
			_, plan, err = loadConfig(*s.cfgPath)
		}
		return err
	}
	dbFile = *s.dbPath
	if dbFile == "" || *s.cfgPath != "" {
		if err := loadPlan(); err != nil {
			return f, "", err
		}
		if dbFile == "" {
			dbFile = plan.Database
		}
	}
	spec := selectionSpec{Near: *s.near, Radius: *s.radius, Within: *s.within, Since: *s.since, Until: *s.until,
		Filters: s.filters, Kinds: s.kinds, Sources: s.sources, Limit: *s.limit}
	f, err = spec.resolve(now, selectionEnv{
		prefix: s.cmd + ": ",
		param:  func(p string) string { return "--" + p },
		place: func(name string) (orb.Point, bool, error) {
			if err := loadPlan(); err != nil {
				return orb.Point{}, false, err
			}
			place, found := plan.Gazetteer.Lookup(name)
			return place.Point, found, nil
		},
		placeHint: "give LAT,LON or add it to the config's places",
		within: func(file string, filters map[string]string) (monitor.Shape, error) {
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			return geo.LoadPolygon(data, filters)
		},
	})
	return f, dbFile, err
}

// parseLatLon reads "LAT,LON"; ok is false for anything that is not two numbers
// (a place name), and err set for two numbers out of range.
func parseLatLon(s string) (p orb.Point, ok bool, err error) {
	a, b, found := strings.Cut(s, ",")
	if !found {
		return p, false, nil
	}
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if err1 != nil || err2 != nil {
		return p, false, nil
	}
	p = orb.Point{lon, lat}
	if err := geo.CheckPoint(p); err != nil {
		return p, true, err
	}
	return p, true, nil
}

// timeForms says in words what every time flag takes.
const timeForms = "want an RFC 3339 time (2018-02-04T10:00:00Z), a date (2018-02-04, midnight UTC), a duration back from now (24h, 7d) or now"

// parseWhen reads a time flag: an RFC 3339 time, a date (midnight UTC), a
// duration back from now ("24h": now-24h) or "now". Empty is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	switch s {
	case "":
		return time.Time{}, nil
	case "now":
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := configs.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: %s", s, timeForms)
	}
	return now.Add(-d), nil
}

// rowWriter writes observations in one format; Close ends the document.
type rowWriter interface {
	Write(o monitor.Observation) error
	Close() error
}

// newRowWriter returns the writer of format on w; w is buffered by the caller.
func newRowWriter(format string, w *bufio.Writer) (rowWriter, error) {
	switch format {
	case "table":
		return &tableWriter{tw: newTable(w)}, nil
	case "csv":
		cw := csv.NewWriter(w)
		cw.UseCRLF = true // RFC 4180
		return &csvWriter{w: cw}, cw.Write(csvHeader)
	case "geojson":
		_, err := w.WriteString(`{"type":"FeatureCollection","features":[`)
		return &featureWriter{w: w, collection: true}, err
	case "ndjson":
		return &featureWriter{w: w}, nil
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

func newTable(w io.Writer) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FID\tOBSERVED AT\tSOURCE\tEXT ID\tKIND\tPLACE\tLAT\tLON\tTITLE")
	return tw
}

type tableWriter struct {
	tw *tabwriter.Writer
	n  int
}

func (t *tableWriter) Write(o monitor.Observation) error {
	_, err := fmt.Fprintf(t.tw, "%d\t%s\t%s\t%s\t%s\t%s\t%.5f\t%.5f\t%s\n", o.FID, o.Time.UTC().Format(outTime),
		cell(o.Source), cell(o.ID), cell(o.Kind), cell(o.Place), o.Point.Lat(), o.Point.Lon(), cell(o.Title))
	if t.n++; t.n%tableFlushRows == 0 && err == nil {
		err = t.tw.Flush()
	}
	return err
}

func (t *tableWriter) Close() error { return t.tw.Flush() }

// cell keeps a value on its table cell: control characters become spaces, and
// an empty value is "-".
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

var csvHeader = []string{"fid", "observed_at", "ingested_at", "source", "ext_id", "kind", "place",
	"lat", "lon", "title", "url", "weight", "precision", "properties"}

type csvWriter struct {
	w   *csv.Writer
	rec []string
}

func (c *csvWriter) Write(o monitor.Observation) error {
	c.rec = append(c.rec[:0], strconv.FormatInt(o.FID, 10), o.Time.UTC().Format(outTime),
		o.Ingested.UTC().Format(outTime), o.Source, o.ID, o.Kind, o.Place,
		strconv.FormatFloat(o.Point.Lat(), 'f', -1, 64), strconv.FormatFloat(o.Point.Lon(), 'f', -1, 64),
		o.Title, o.URL, strconv.FormatFloat(o.Weight, 'f', -1, 64), o.Precision.String(), string(o.Properties))
	return c.w.Write(c.rec)
}

func (c *csvWriter) Close() error {
	c.w.Flush()
	return c.w.Error()
}

// featureWriter writes GeoJSON Features: a FeatureCollection written as the
// rows come (its features array is never held), or one Feature per line.
type featureWriter struct {
	w          *bufio.Writer
	collection bool
	n          int
}

// featureJSON is an observation as a GeoJSON Feature; id is the fid and the
// geometry the stored point.
type featureJSON struct {
	Type       string           `json:"type"`
	ID         int64            `json:"id"`
	Geometry   pointJSON        `json:"geometry"`
	Properties featurePropsJSON `json:"properties"`
}

type pointJSON struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

type featurePropsJSON struct {
	FID        int64           `json:"fid"`
	Source     string          `json:"source"`
	ExtID      string          `json:"ext_id"`
	ObservedAt string          `json:"observed_at"`
	IngestedAt string          `json:"ingested_at"`
	Kind       string          `json:"kind"`
	Place      string          `json:"place,omitempty"`
	Title      string          `json:"title,omitempty"`
	URL        string          `json:"url,omitempty"`
	Weight     float64         `json:"weight"`
	Precision  string          `json:"precision"`
	Properties json.RawMessage `json:"properties,omitempty"`
}

func (fw *featureWriter) Write(o monitor.Observation) error {
	props := o.Properties
	if len(props) > 0 && !json.Valid(props) {
		props = nil // stored as received; never let one row break the document
	}
	b, err := json.Marshal(featureJSON{
		Type: "Feature", ID: o.FID,
		Geometry: pointJSON{Type: "Point", Coordinates: [2]float64{o.Point.Lon(), o.Point.Lat()}},
		Properties: featurePropsJSON{FID: o.FID, Source: o.Source, ExtID: o.ID,
			ObservedAt: o.Time.UTC().Format(outTime), IngestedAt: o.Ingested.UTC().Format(outTime),
			Kind: o.Kind, Place: o.Place, Title: o.Title, URL: o.URL, Weight: o.Weight,
			Precision: o.Precision.String(), Properties: props},
	})
	if err != nil {
		return err
	}
	if fw.collection && fw.n > 0 {
		fw.w.WriteByte(',')
	}
	fw.n++
	if fw.collection {
		fw.w.WriteByte('\n')
	}
	fw.w.Write(b)
	if !fw.collection {
		fw.w.WriteByte('\n')
	}
	return nil // bufio.Writer keeps its first error for Flush
}

func (fw *featureWriter) Close() error {
	if fw.collection {
		_, err := fw.w.WriteString("\n]}\n")
		return err
	}
	return nil
}

// cmdQuery prints the observations near a place or inside a polygon.
func cmdQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("query", stderr)
	sel := addSelectionFlags(fs, "query")
	format := fs.String("format", "table", "output `FORMAT`: table, csv, geojson or ndjson")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usageError{"query takes no arguments"}
	case *sel.near == "" && *sel.within == "":
		return usageError{"query: give --near PLACE --radius DISTANCE or --within FILE (geowatch export takes neither)"}
	}
	if !validFormat(*format, "table", "csv", "geojson", "ndjson") {
		return usageError{fmt.Sprintf("query: --format %q: want table, csv, geojson or ndjson", *format)}
	}
	_, err := runSelection(ctx, sel, *format, stdout, nil)
	return err
}

// cmdExport writes the whole database, or what the selection flags pick, to
// stdout or a file.
func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", stderr)
	sel := addSelectionFlags(fs, "export")
	format := fs.String("format", "geojson", "output `FORMAT`: geojson, csv or ndjson")
	out := fs.String("o", "", "write to `FILE` (replaced only once the export is complete; default: stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"export takes no arguments"}
	}
	if !validFormat(*format, "geojson", "csv", "ndjson") {
		return usageError{fmt.Sprintf("export: --format %q: want geojson, csv or ndjson", *format)}
	}
	w, commit := stdout, func() error { return nil }
	if *out != "" {
		f, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*.tmp")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer func() {
			f.Close()
			os.Remove(f.Name()) // gone after a successful rename
		}()
		if err := f.Chmod(0o640); err != nil { // as the database: the same data
			return fmt.Errorf("export: %w", err)
		}
		w, commit = f, func() error {
			if err := f.Sync(); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			return os.Rename(f.Name(), *out)
		}
	}
	n, err := runSelection(ctx, sel, *format, w, stderr)
	if err != nil {
		return err
	}
	if err := commit(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if *out != "" {
		fmt.Fprintf(stderr, "exported %d observations to %s\n", n, *out)
	}
	return nil
}

func validFormat(f string, ok ...string) bool {
	for _, o := range ok {
		if f == o {
			return true
		}
	}
	return false
}

// runSelection opens the database read-only and streams the selection to w in
// format, with a progress bar on progress when that is a terminal (nil: none).
// It returns the number of rows written.
func runSelection(ctx context.Context, sel *selection, format string, w io.Writer, progress io.Writer) (int64, error) {
	f, dbFile, err := sel.filter(time.Now())
	if err != nil {
		return 0, err
	}
	st, err := openExisting(ctx, dbFile)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	bar := rowProgress(ctx, progress, st, f, sel.cmd)
	bw := bufio.NewWriterSize(w, 256<<10)
	rw, err := newRowWriter(format, bw)
	if err != nil {
		return 0, err
	}
	var n int64
	err = st.Query(ctx, f, func(o monitor.Observation) error {
		if err := rw.Write(o); err != nil {
			return err
		}
		if n++; bar != nil && n%1000 == 0 {
			bar.Add(1000) //nolint:errcheck // a terminal that fails to draw changes nothing
		}
		return nil
	})
	if bar != nil {
		bar.Finish() //nolint:errcheck // as above
		fmt.Fprintln(progress)
	}
	err = errors.Join(err, rw.Close(), bw.Flush())
	if err != nil {
		return n, fmt.Errorf("%s: %w", sel.cmd, err)
	}
	return n, nil
}

// rowProgress returns a bar on w when it is a terminal: counting to the number
// of observations when the selection is everything (a quick COUNT), else a
// spinner with the count so far, since counting a filtered selection costs
// as much as the export.
func rowProgress(ctx context.Context, w io.Writer, st store.Backend, f store.QueryFilter, desc string) *progressbar.ProgressBar {
	tf, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(tf.Fd())) {
		return nil
	}
	total := int64(-1)
	if f.Area == nil && f.Since.IsZero() && f.Until.IsZero() && len(f.Kinds) == 0 && len(f.Sources) == 0 {
		if n, err := st.CountObservations(ctx); err == nil {
			total = n
			if f.Limit > 0 {
				total = min(total, int64(f.Limit))
			}
		}
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(tf),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(total > 0),
	)
}
