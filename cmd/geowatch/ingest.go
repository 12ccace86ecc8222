package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/monitor/source/csv"
	"github.com/geowatch/geowatch/monitor/source/geojson"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ingestChunk is how many records ingest stores per batch (one transaction):
// large enough that a transaction's overhead does not matter (20,000 and
// 50,000 rows loaded the 1M-row bench workload at the same rate), small enough
// that a big file is never held whole as observations: two batches are in
// memory at once, the one parsed and the one stored, and at 50,000 rows they
// were 70 MB of the Go heap. NDJSON and CSV are read in chunks of this many
// records. A variable so tests can cross chunk boundaries with small files.
var ingestChunk = 20_000

// ingestMemoryLimit is the Go heap's soft limit during an import (unless
// GOMEMLIMIT is set). With the writer's 48 MB page cache (store.WithLowMemory)
// and its statement journals on disk, one malloc arena and 20,000-row
// batches, a 1M-row CSV import peaked at 165–181 MB resident in three runs,
// in 28–30 s (with a 64 MB cache and a 112 MB limit: 185–230 MB; with 50,000
// rows and the journals in memory: 295–310 MB; 768–823 MB before any of this).
const ingestMemoryLimit = 96 << 20

// cmdIngest imports one file through the engine, as a run of the source NAME:
// records are validated, stored, rejected and counted in the sources table
// exactly as when the daemon pulls them.
func cmdIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ingest", stderr)
	name := fs.String("source", "", "source `NAME` to store the records under (required)")
	format := fs.String("format", "auto", "file `FORMAT`: geojson, csv, ndjson (flat JSON objects, one a line), or auto (by extension, else by content)")
	preset := fs.String("preset", "", "csv `PRESET`: "+strings.Join(csv.PresetNames(), ", ")+" (default: the options of the config's csv source NAME)")
	cfgPath := fs.String("config", "", "config `FILE` (default: the embedded default config)")
	dbPath := fs.String("db", "", "database: a SQLite `PATH` or a postgres:// URL (default: the config's database)")
	var fields fieldFlags
	fs.Var(&fields, "field", "csv, ndjson: `FIELD=NAME` reads FIELD (id, time, time_layout, lat, lon, kind, place, text, url, weight, precision, updated) from the column (csv, by its header; over --preset's or the config source's) or the objects' member NAME (repeatable; ndjson default: the field's own name, text from title)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(files) != 1:
		return usageError{"ingest takes one FILE"}
	case *name == "":
		return usageError{"ingest: --source NAME is required"}
	case !configs.ValidName(*name):
		return usageError{fmt.Sprintf("ingest: --source %q: use letters, digits, _ . - (at most 64)", *name)}
	case *format == "jsonl":
		*format = "ndjson"
	case *format != "auto" && *format != "geojson" && *format != "csv" && *format != "ndjson":
		return usageError{fmt.Sprintf("ingest: --format %q: want geojson, csv, ndjson or auto", *format)}
	}
	if fields.set && *format == "geojson" {
		return usageError{"ingest: --field is for csv and ndjson files (GeoJSON takes the config's fields)"}
	}
	file := files[0]
	cfg, plan, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if info.IsDir() {
		return fmt.Errorf("ingest: %s is a directory", file)
	}
	typ := *format
	if typ == "auto" {
		if typ, err = sniffFormat(f); err != nil {
			return fmt.Errorf("ingest: %s: %w", file, err)
		}
	}

	bar := newProgressBar(stderr, info.Size(), filepath.Base(file))
	var in io.Reader = f
	if bar != nil {
		in = io.TeeReader(f, bar)
	}
	var src monitor.Source
	switch typ {
	case "csv":
		opt, err := csvOptions(*preset, *name, plan.Checks, fields)
		if err != nil {
			return err
		}
		src = pullFunc(func(ctx context.Context, emit monitor.EmitFunc) error {
			return csv.Stream(ctx, in, file, opt, ingestChunk, emit)
		})
	case "geojson", "ndjson":
		if *preset != "" {
			return usageError{"ingest: --preset is for csv files"}
		}
		opt := geojsonOptions(cfg.Sources, *name)
		objects := typ == "ndjson"
		src = pullFunc(func(ctx context.Context, emit monitor.EmitFunc) error {
			if objects {
				return csv.StreamObjects(ctx, in, file, fields.opt, ingestChunk, emit)
			}
			return pullGeoJSON(ctx, in, file, opt, fields.opt, emit)
		})
	}

	for _, c := range plan.Checks {
		// The config's source of that name shares its ids with others.
		if n, ok := c.Source.(configs.Namespaced); ok && c.Name == *name {
			src = configs.Namespaced{Source: src, Namespace: n.Namespace}
		}
	}

	dbFile := *dbPath
	if dbFile == "" {
		dbFile = plan.Database
	}
	log, err := newLogger(stderr, "warn", "json")
	if err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Two batches of ingestChunk records are alive at once (pipeline),
		// about 60 MB with their maps; without a limit the collector lets
		// garbage grow to twice the heap.
		debug.SetMemoryLimit(ingestMemoryLimit)
	}
	sqlite.LimitMallocArenas(1)
	st, err := openWritable(ctx, dbFile, plan, log, store.WithLowMemory())
	if err != nil {
		return err
	}
	defer st.Close()
	engine, err := monitor.NewEngine(ctx, st, log.Named("engine"))
	if err != nil {
		return err
	}
	res, err := ingestRun(ctx, st, engine, *name, typ, src)
	if bar != nil {
		bar.Finish()         //nolint:errcheck // a terminal that fails to draw changes nothing
		fmt.Fprintln(stderr) // the bar leaves the cursor on its line
	}
	if _, werr := fmt.Fprintf(stdout, "seen %d, added %d, updated %d, unchanged %d, rejected %d\n",
		res.Seen, res.Added, res.Updated, res.Unchanged, res.Rejected); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("ingest %s: %w", file, err)
	}
	if res.Seen == 0 {
		return fmt.Errorf("ingest %s: no records read", file)
	}
	return nil
}

// ingestRun is engine.RunCheck recorded as it goes: the run is in the
// sources table as started (last_error store.Running) before the first batch,
// each stored batch adds its counts, and the end settles the outcome. A
// killed import so shows as interrupted with what it stored (short of at most
// the batch committed just before the kill, whose records a rerun counts as
// unchanged).
func ingestRun(ctx context.Context, st store.Backend, engine *monitor.Engine, name, typ string, src monitor.Source) (monitor.IngestResult, error) {
	started := time.Now()
	if err := st.StartRun(ctx, name, typ, started); err != nil {
		return monitor.IngestResult{}, err
	}
	pull := func(ctx context.Context, emit monitor.EmitFunc) error { return src.Pull(ctx, started, emit) }
	total, err := pipeline(ctx, pull, func(ctx context.Context, b monitor.Batch) (monitor.IngestResult, error) {
		res, err := engine.Ingest(ctx, name, b, started)
		if err != nil {
			return res, err
		}
		return res, st.AddRunProgress(context.WithoutCancel(ctx), name, res, time.Since(started))
	})
	if ferr := st.FinishRun(context.WithoutCancel(ctx), name, started, time.Since(started), err); ferr != nil && err == nil {
		err = fmt.Errorf("record check run: %w", ferr)
	}
	return total, err
}

// pipeline runs pull on a goroutine of its own and stores each batch it
// emits with store on the caller's, so that parsing the next batch runs on
// the other core while SQLite writes this one (measured: the writer is the
// slower of the two; alone, a CSV batch's parse is about a fifth of its
// store). The hand-over is unbuffered: the next batch waits parsed while this
// one is stored, so memory holds two. A failed store stops the pull and is the
// error returned; the batches stored before it stay stored, and the counts
// returned are theirs.
func pipeline(ctx context.Context, pull func(context.Context, monitor.EmitFunc) error,
	store func(context.Context, monitor.Batch) (monitor.IngestResult, error)) (monitor.IngestResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan monitor.Batch)
	pulled := make(chan error, 1)
	go func() {
		defer close(batches)
		pulled <- pull(ctx, func(ctx context.Context, b monitor.Batch) error {
			select {
			case batches <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var total monitor.IngestResult
	var storeErr error
	for b := range batches {
		if storeErr != nil {
			continue // drain: the pull sees ctx cancelled and ends
		}
		res, err := store(ctx, b)
		if err != nil {
			storeErr = err
			cancel()
			continue
		}
		total.Add(res)
	}
	pullErr := <-pulled
	if storeErr != nil {
		return total, storeErr
	}
	return total, pullErr
}

// parseInterspersed parses flags that may come before and after the
// positional arguments ("ingest FILE --source NAME"), which flag alone stops at.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// pullFunc is a monitor.Source that reads its input once.
type pullFunc func(ctx context.Context, emit monitor.EmitFunc) error

func (f pullFunc) Pull(ctx context.Context, _ time.Time, emit monitor.EmitFunc) error {
	return f(ctx, emit)
}

// newProgressBar returns a bar counting bytes on stderr, or nil unless stderr
// is a terminal: piped or redirected, ingest writes nothing but its log there.
func newProgressBar(stderr io.Writer, size int64, desc string) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok || size <= 0 || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
	)
}

// sniffFormat tells csv from geojson by the file's extension (under a .gz or
// .zip one), else by its first byte: GeoJSON starts with { or an RS (RFC 8142).
func sniffFormat(f *os.File) (string, error) {
	name := strings.ToLower(f.Name())
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".zip")
	switch filepath.Ext(name) {
	case ".csv", ".tsv", ".tab", ".txt":
		return "csv", nil
	case ".geojson", ".json", ".ndjson", ".jsonl", ".geojsonl", ".geojsons":
		return "geojson", nil
	}
	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	head = bytes.TrimSpace(bytes.TrimPrefix(head[:n], []byte("\xef\xbb\xbf")))
	if len(head) > 0 && (head[0] == '{' || head[0] == 0x1e) {
		return "geojson", nil
	}
	return "csv", nil
}

// csvOptions are the options of --preset, else those of the config's csv
// source of that name, with --field's columns over them; --field alone reads
// a file with a header row.
func csvOptions(preset, name string, checks []daemon.Check, fields fieldFlags) (csv.Options, error) {
	opt, found := csv.Options{Preset: preset}, preset != ""
	for _, c := range checks {
		if found {
			break
		}
		src := c.Source
		if n, ok := src.(configs.Namespaced); ok {
			src = n.Source
		}
		if s, ok := src.(*csv.Source); ok && c.Name == name {
			opt, found = s.Options(), true
		}
	}
	if fields.set {
		if !found {
			// Columns named by the header row, as --field names them.
			opt.Header = true
		}
		opt, found = opt.Overlay(fields.opt), true
	}
	if !found {
		return opt, usageError{fmt.Sprintf("ingest: a csv file needs --preset (%s), --field for its columns or a csv source %q in the config",
			strings.Join(csv.PresetNames(), ", "), name)}
	}
	if err := opt.Validate(); err != nil {
		return opt, usageError{"ingest: csv: " + err.Error()}
	}
	return opt, nil
}

// geojsonOptions are those of the config's source of that name; the USGS
// defaults without one.
func geojsonOptions(sources []configs.SourceConfig, name string) geojson.Options {
	for _, s := range sources {
		if s.Name == name {
			return s.GeoJSONOptions()
		}
	}
	return geojson.Options{}
}

// pullGeoJSON reads r as newline-delimited Features when its first line is a
// Feature, streaming them in batches of ingestChunk lines; otherwise as one
// document, which geojson.Parse reads whole, emitted in batches of ingestChunk
// features. Rejects keep the locators geojson.Parse gives the whole file:
// "line <n>" counted from the file's start, "feature <i>".
//
// A first line that is a JSON object of no GeoJSON type (no "type" member)
// makes the file newline-delimited flat objects, read with csv.StreamObjects
// and objects' field mapping.
func pullGeoJSON(ctx context.Context, r io.Reader, origin string, opt geojson.Options, objects csv.Options, emit monitor.EmitFunc) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var head []byte // the lines read to find the first non-blank one
	line := 0
	for {
		l, err := br.ReadBytes('\n')
		if len(l) > 0 {
			line++
			head = append(head, l...)
			if t := ndjsonLine(l, line == 1); len(t) > 0 {
				if isFeature(t) {
					return pullNDJSON(ctx, br, origin, opt, line, t, emit)
				}
				if isPlainObject(t) {
					return csv.StreamObjects(ctx, io.MultiReader(bytes.NewReader(head), br), origin, objects, ingestChunk, emit)
				}
				break
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("geojson: read %s: %w", origin, err)
		}
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		return fmt.Errorf("geojson: read %s: %w", origin, err)
	}
	b, err := geojson.Parse(append(head, rest...), opt)
	if err != nil {
		return fmt.Errorf("%w (from %s)", err, origin)
	}
	parts := max(1, (len(b.Observations)+ingestChunk-1)/ingestChunk)
	for i := range parts {
		part := monitor.Batch{Origin: origin, Observations: b.Observations[i*ingestChunk : min((i+1)*ingestChunk, len(b.Observations))]}
		if i == 0 {
			part.Rejects = b.Rejects
		}
		if parts > 1 {
			part.Origin = fmt.Sprintf("%s (part %d of %d)", origin, i+1, parts)
		}
		if err := emit(ctx, part); err != nil {
			return fmt.Errorf("geojson: emit %s: %w", part.Origin, err)
		}
	}
	return nil
}

// ndjsonLine trims a line as geojson.Parse does: a BOM on the first line, a
// leading RS and surrounding space.
func ndjsonLine(l []byte, first bool) []byte {
	if first {
		l = bytes.TrimPrefix(l, []byte("\xef\xbb\xbf"))
	}
	return bytes.TrimSpace(bytes.TrimLeft(bytes.TrimSpace(l), "\x1e"))
}

// isPlainObject says whether a line is a JSON object with no "type" member,
// so no GeoJSON object.
func isPlainObject(t []byte) bool {
	var head map[string]json.RawMessage
	if json.Unmarshal(t, &head) != nil {
		return false
	}
	_, typed := head["type"]
	return !typed
}

func isFeature(t []byte) bool {
	var head struct {
		Type string `json:"type"`
	}
	return json.Valid(t) && json.Unmarshal(t, &head) == nil && head.Type == "Feature"
}

// pullNDJSON streams newline-delimited Features, first (at line n) and the
// lines br holds after it. Each batch of ingestChunk non-blank lines is parsed
// with geojson.Parse and its "line <i>" locators renumbered from the file's
// start. A chunk must open with a JSON line for geojson.Parse to read it line by
// line, so a line that is not JSON at a chunk's start is rejected here, as
// geojson.Parse rejects one inside a chunk.
func pullNDJSON(ctx context.Context, br *bufio.Reader, origin string, opt geojson.Options, n int, first []byte, emit monitor.EmitFunc) error {
	var (
		buf     []byte
		start   int   // the file's line number of the batch's first line
		lines   []int // the file's line number of each line in buf
		early   []monitor.Reject
		emitted bool
	)
	flush := func(last bool) error {
		var b monitor.Batch
		if len(lines) > 0 {
			var err error
			if b, err = geojson.Parse(buf, opt); err != nil {
				return fmt.Errorf("%w (from %s, lines %d-%d)", err, origin, lines[0], lines[len(lines)-1])
			}
			for i := range b.Rejects {
				b.Rejects[i].Record = renumber(b.Rejects[i].Record, lines)
			}
		}
		b.Rejects = append(early, b.Rejects...)
		b.Origin = origin
		if emitted || !last {
			b.Origin = fmt.Sprintf("%s (lines %d-%d)", origin, start, n)
		}
		if err := emit(ctx, b); err != nil {
			return fmt.Errorf("geojson: emit %s: %w", b.Origin, err)
		}
		// A new buffer: the emitted observations' properties may alias this one.
		buf, lines, early, emitted = nil, nil, nil, true
		return nil
	}
	add := func(t []byte) error {
		if len(lines)+len(early) == 0 {
			start = n
		}
		if len(lines) == 0 && !json.Valid(t) {
			var v any
			err := json.Unmarshal(t, &v)
			early = append(early, monitor.Reject{Record: "line " + strconv.Itoa(n), Field: "feature",
				Err: fmt.Errorf("%w: not a JSON object: %v", monitor.ErrBadValue, err), Raw: monitor.RawRecord(t)})
		} else {
			if len(lines) > 0 {
				buf = append(buf, '\n')
			}
			buf = append(buf, t...)
			lines = append(lines, n)
		}
		if len(lines)+len(early) >= ingestChunk {
			return flush(false)
		}
		return nil
	}
	if err := add(first); err != nil {
		return err
	}
	for {
		l, err := br.ReadBytes('\n')
		if len(l) > 0 {
			n++
			if t := ndjsonLine(l, false); len(t) > 0 {
				if err := add(t); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("geojson: read %s past line %d: %w", origin, n, err)
		}
	}
	if len(lines)+len(early) > 0 || !emitted {
		return flush(true)
	}
	return nil
}

// renumber maps a chunk's locator, "line <i>" (1-based in the chunk) or
// "feature 0" (a chunk of one line, read as a single Feature), with any
// " (<id>)" after it, onto the file's line numbers.
func renumber(record string, lines []int) string {
	num, rest, _ := strings.Cut(record, " (")
	if rest != "" {
		rest = " (" + rest
	}
	switch {
	case num == "feature 0" && len(lines) == 1:
		return "line " + strconv.Itoa(lines[0]) + rest
	case strings.HasPrefix(num, "line "):
		if i, err := strconv.Atoi(strings.TrimPrefix(num, "line ")); err == nil && i >= 1 && i <= len(lines) {
			return "line " + strconv.Itoa(lines[i-1]) + rest
		}
	}
	return record
}

// fieldFlags collects --field FIELD=MEMBER into the options of
// newline-delimited objects.
type fieldFlags struct {
	opt csv.Options
	set bool
}

func (f *fieldFlags) String() string { return "" }

func (f *fieldFlags) Set(v string) error {
	key, member, ok := strings.Cut(v, "=")
	if !ok || member == "" {
		return fmt.Errorf("want FIELD=MEMBER, such as time=observed")
	}
	fl := &f.opt.Fields
	dst := map[string]*string{"id": &fl.ID, "time": &fl.Time, "lat": &fl.Lat, "lon": &fl.Lon, "kind": &fl.Kind,
		"place": &fl.Place, "text": &fl.Text, "url": &fl.URL, "weight": &fl.Weight, "precision": &fl.Precision,
		"updated": &fl.Updated}
	switch {
	case key == "time_layout":
		fl.TimeLayout = append(fl.TimeLayout, member)
	case dst[key] != nil:
		*dst[key] = member
	default:
		return fmt.Errorf("field %q: want one of id, time, time_layout, lat, lon, kind, place, text, url, weight, precision, updated", key)
	}
	f.set = true
	return nil
}
