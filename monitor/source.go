package monitor

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Source pulls observations from one place: a feed URL, a file, a spool directory.
// Implementations live in sub-packages of monitor/source, one per format.
type Source interface {
	// Pull reads what is new since the last pull and hands it to emit in one or more
	// batches. A batch counts as delivered only when emit returns nil: a source that
	// must acknowledge its input (the spool moves a file to done/) does so after
	// that, and leaves it in place otherwise. now is the scheduler's clock.
	Pull(ctx context.Context, now time.Time, emit EmitFunc) error
}

// EmitFunc stores one batch; it returns after the batch is committed.
type EmitFunc func(ctx context.Context, b Batch) error

// Batch is what a source read from one input (a file, a response body): the
// records that parsed and the ones it rejected, so that every record received is
// accounted for.
type Batch struct {
	// Origin names the input: a URL or a file path, for logs.
	Origin string
	// Namespace is the id namespace of the batch's source (its config's
	// id_namespace), shared with the sources that read the same catalogue: the
	// store keeps one record per (Namespace, ID). Empty: ids are the source's own.
	Namespace    string
	Observations []Observation
	Rejects      []Reject
}

// Reject is a record a source or the engine refused, with why.
type Reject struct {
	Record string   // a locator for people: "feature 12 (us7000abcd)", "line 42"
	Pos    Position // where the record was in its input, for programs
	Field  string   // the field at fault: "geometry.coordinates", "properties.time"
	Err    error    // why, often wrapping a sentinel such as geo.ErrLatitudeRange
	Raw    string   // the record as received, cut to MaxRawBytes
}

// Position locates a record in the input a source read, as the parser saw it,
// so that whoever reports on the record (a push reply, a reject) never parses
// it back out of a locator string. It is small: every observation carries one.
type Position struct {
	// Kind is what the format calls a record; RecordUnknown for a record whose
	// source does not say.
	Kind RecordKind
	// Index is the record's 0-based position among the input's records.
	Index int32
	// Line is the 1-based line the record starts on; 0 when the format has no
	// lines worth naming (a FeatureCollection on one line).
	Line int32
}

// RecordKind is what a format calls its records.
type RecordKind uint8

// Record kinds.
const (
	RecordUnknown RecordKind = iota
	RecordFeature            // a GeoJSON feature
	RecordRow                // a CSV row
	RecordItem               // an RSS or Atom item
)

var recordKinds = [...]string{"", "feature", "row", "item"}

// String is the locator people read: "feature 3" (0-based, as jq's
// .features[3]), "line 42" (1-based, as an editor counts); empty when unknown.
func (p Position) String() string {
	switch {
	case p.Kind == RecordUnknown || int(p.Kind) >= len(recordKinds):
		return ""
	case p.Line > 0:
		return "line " + strconv.Itoa(int(p.Line))
	}
	return recordKinds[p.Kind] + " " + strconv.Itoa(int(p.Index))
}

// RecordError is a rejected record as an error: it names source, record and field.
type RecordError struct {
	Source, Record, Field string
	Err                   error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s: record %s: %s: %v", e.Source, e.Record, e.Field, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// RawRecord cuts a raw record to MaxRawBytes for keeping with a reject.
func RawRecord(b []byte) string {
	if len(b) > MaxRawBytes {
		b = b[:MaxRawBytes]
	}
	return string(b)
}

// IngestResult counts what happened to a batch's records. Seen equals
// Added + Updated + Unchanged + Rejected.
type IngestResult struct {
	Seen      int // records received
	Added     int // new rows
	Updated   int // rows already stored under the same (source, id) whose content changed
	Unchanged int // exact duplicates of stored rows
	Rejected  int // refused, kept in the rejects table
}

// Add accumulates r into s.
func (s *IngestResult) Add(r IngestResult) {
	s.Seen += r.Seen
	s.Added += r.Added
	s.Updated += r.Updated
	s.Unchanged += r.Unchanged
	s.Rejected += r.Rejected
}
