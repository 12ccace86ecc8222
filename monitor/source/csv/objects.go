package csv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/geowatch/geowatch/monitor"
)

// ObjectFields are the fields that newline-delimited JSON objects are read
// with when Options map none: geowatch's own names, as `geowatch export
// --format csv` writes its columns and as the shared bench workload
// (../shared/bench/gen_workload.py: id, source, kind, time, lat, lon) has them.
// A member an object lacks reads as empty: no kind, weight 1.
var ObjectFields = Fields{ID: "id", Time: "time", Lat: "lat", Lon: "lon", Kind: "kind",
	Place: "place", Text: "title", URL: "url", Weight: "weight", Precision: "precision"}

// StreamObjects reads newline-delimited JSON objects (NDJSON, JSON Lines:
// one flat object a line, not GeoJSON) from r, plain, gzip or zipped, and
// emits them in batches as Stream does. opt.Fields name members instead of
// columns; without them, ObjectFields apply, and fields set replace those one
// by one. A string member is read as its text, a number or boolean as
// written, null or an absent member as empty, so every CSV option (time
// layouts, precisions, time zone, kind) reads a member as it reads a column.
// Presets, header, columns, delimiter and "#index" references are for
// delimited files and are refused.
//
// Each line becomes an observation, whose properties are the object as
// received, or a reject "line <n>" (blank lines are skipped, and counted): a
// line that is not a JSON object is rejected on field "row".
func StreamObjects(ctx context.Context, r io.Reader, origin string, opt Options, chunkRows int, emit monitor.EmitFunc) error {
	rd, err := newObjectReader(r, opt)
	if err != nil {
		return fmt.Errorf("%w (from %s)", err, origin)
	}
	defer rd.close()
	if chunkRows <= 0 {
		chunkRows = DefaultChunkRows
	}
	return emitRows(ctx, rd, origin, chunkRows, emit)
}

// ErrNotObjects is a StreamObjects option that only a delimited file has.
var ErrNotObjects = errors.New("not an option of newline-delimited JSON objects")

func newObjectReader(r io.Reader, opt Options) (*reader, error) {
	switch {
	case opt.Preset != "":
		return nil, fmt.Errorf("csv: preset %q: %w", opt.Preset, ErrNotObjects)
	case opt.Header || len(opt.Columns) > 0 || opt.Delimiter != 0 || opt.LazyQuotes || opt.MinColumns != 0:
		return nil, fmt.Errorf("csv: header, columns, delimiter, lazy_quotes, min_columns: %w", ErrNotObjects)
	}
	opt = Options{Fields: ObjectFields}.Overlay(opt)
	opt, _, err := opt.resolve()
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	f := opt.Fields
	var names []string
	for _, ref := range append([]string{f.ID, f.IDFallback, f.Time, f.Lat, f.Lon, f.Kind, f.Place, f.Text, f.URL,
		f.Weight, f.Precision, f.Updated, f.EventTime}, f.TimeColumns...) {
		if strings.HasPrefix(ref, "#") {
			return nil, fmt.Errorf("csv: field %q: %w (name the member)", ref, ErrNotObjects)
		}
		if ref != "" && !slices.Contains(names, ref) {
			names = append(names, ref)
		}
	}
	in, err := decode(r, opt.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	rd := &reader{objects: bufio.NewReaderSize(in, 256<<10), in: in}
	if rd.plan, err = newPlan(opt, names, nil); err != nil {
		in.Close()
		return nil, fmt.Errorf("csv: %w", err)
	}
	return rd, nil
}

// nextObject reads the next non-blank line into b, as next does a row.
func (rd *reader) nextObject(b *monitor.Batch) (bool, error) {
	var line []byte
	for len(line) == 0 {
		l, err := rd.objects.ReadBytes('\n')
		if len(l) == 0 && errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("csv: reading past line %d: %w", rd.line, err)
		}
		rd.line++
		if rd.line == 1 {
			l = bytes.TrimPrefix(l, []byte("\xef\xbb\xbf"))
		}
		line = bytes.TrimSpace(l)
	}
	rec, err := rd.plan.objectRow(line)
	if err != nil {
		b.Rejects = append(b.Rejects, monitor.Reject{Record: "line " + strconv.Itoa(rd.line), Pos: rd.pos(),
			Field: "row", Err: err, Raw: monitor.RawRecord(line)})
		return true, nil
	}
	o, field, err := rd.plan.observe(rec, line)
	o.Pos = rd.pos()
	if err != nil {
		b.Rejects = append(b.Rejects, rowReject(rd.line, o, field, err, monitor.RawRecord(line)))
		return true, nil
	}
	b.Observations = append(b.Observations, o)
	return true, nil
}

// objectRow reads a JSON object's members named by the plan, in its column
// order, as text.
func (p *plan) objectRow(line []byte) ([]string, error) {
	if line[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", monitor.ErrBadValue)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", monitor.ErrBadValue, err)
	}
	rec := make([]string, len(p.names))
	for i, n := range p.names {
		v := bytes.TrimSpace(m[n])
		switch {
		case len(v) == 0 || string(v) == "null":
		case v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil { // cannot fail: Unmarshal checked the object
				return nil, fmt.Errorf("%w: member %q: %v", monitor.ErrBadValue, n, err)
			}
			rec[i] = s
		default:
			rec[i] = string(v)
		}
	}
	return rec, nil
}
