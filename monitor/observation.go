package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/geowatch/geowatch/geo"
	"github.com/paulmach/orb"
)

// Observation is one place-tagged report from a source: an earthquake, a news item
// geotagged to a city, a sighting pushed by a field team.
type Observation struct {
	// FID is the store's row id; zero until stored.
	FID int64
	// Source is the name of the check that pulled it, from the config.
	Source string
	// ID is the source's own id for the record; (Source, ID) is unique in the store.
	ID string
	// Time is when it was observed, in UTC.
	Time time.Time
	// Revised is when the source last revised the record, where the format
	// says (USGS's updated; an Atom entry's <updated>); zero otherwise. The
	// store never replaces a stored revision with an older one.
	Revised time.Time
	// Ingested is when geowatch first stored it, in UTC; set by the store.
	Ingested time.Time
	// Point is where it was observed (lon, lat, WGS 84). For a non-point geometry it
	// is a representative point of Geometry.
	Point orb.Point
	// Geometry is the original geometry when it was not a point; nil otherwise.
	Geometry orb.Geometry
	// Place is the place name the source gave, if any.
	Place string
	// Kind classifies it: "earthquake", "police_presence", "news", a CAMEO code.
	Kind string
	// Title is the headline or text.
	Title string
	// URL links to the source's page for it.
	URL string
	// Weight counts it in weighted rules; 1 unless the source says otherwise.
	Weight float64
	// Precision says how exactly Point locates it.
	Precision Precision
	// Properties are the raw properties as the source sent them, as a JSON object.
	Properties json.RawMessage
	// Pos is where the parser found the record in its input, for reporting a
	// reject of it; it is not stored.
	Pos Position
}

// Precision says how exactly an observation's point locates it: a source that only
// knows the country reports the country's centroid.
type Precision uint8

// Precisions, from the most exact. The zero value is PrecisionExact: sources that
// give coordinates give them for the event itself.
const (
	PrecisionExact Precision = iota
	PrecisionCity
	PrecisionRegion
	PrecisionCountry
)

var precisionNames = [...]string{"exact", "city", "region", "country"}

// String returns the precision's name as stored and configured.
func (p Precision) String() string {
	if int(p) < len(precisionNames) {
		return precisionNames[p]
	}
	return fmt.Sprintf("precision(%d)", p)
}

// ParsePrecision reads a precision name as String writes it.
func ParsePrecision(s string) (Precision, error) {
	for i, n := range precisionNames {
		if strings.EqualFold(s, n) {
			return Precision(i), nil
		}
	}
	return 0, fmt.Errorf("unknown precision %q (want exact, city, region or country)", s)
}

// Limits on what a record may carry; longer fields are rejected, not truncated,
// so that nothing is stored differently from how it was sent.
const (
	MaxIDBytes   = 256
	MaxTextBytes = 64 << 10
	// MaxRawBytes caps the raw copy of a rejected record kept in the rejects table.
	MaxRawBytes = 16 << 10
)

// Sentinel errors that validation wraps in a *FieldError.
var (
	ErrMissing  = errors.New("missing")
	ErrTooLong  = errors.New("too long")
	ErrBadUTF8  = errors.New("not valid UTF-8")
	ErrBadTime  = errors.New("unparseable time")
	ErrBadValue = errors.New("invalid value")
	ErrFuture   = errors.New("too far in the future")
	// ErrNotLocated means the source says it could not place the record: an
	// empty or unknown location-precision code.
	ErrNotLocated = errors.New("not located")
	// ErrStale means a report of an event older than the source allows.
	ErrStale = errors.New("stale")
)

// FieldError is a validation failure of one field of a record.
type FieldError struct {
	Field string // "geometry.coordinates", "properties.time"
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Validate checks that o can be stored: a non-empty id without control
// characters, a time, a point on Earth, a finite non-negative weight, and text
// that is valid UTF-8 within the limits.
// It returns a *FieldError naming the first bad field.
func (o *Observation) Validate() error {
	switch {
	case o.ID == "":
		return &FieldError{"id", ErrMissing}
	case len(o.ID) > MaxIDBytes:
		return &FieldError{"id", ErrTooLong}
	case !utf8.ValidString(o.ID):
		return &FieldError{"id", ErrBadUTF8}
	case strings.IndexFunc(o.ID, unicode.IsControl) >= 0:
		// An id goes into logs, file names and URLs; a control character there
		// (NUL, newline, escape) is never meant. Ids are otherwise kept
		// byte-exact: no Unicode normalisation, no trimming.
		return &FieldError{"id", fmt.Errorf("%w: control character", ErrBadValue)}
	case o.Time.IsZero():
		return &FieldError{"time", ErrMissing}
	case o.Time.Year() < 1 || o.Time.Year() > 9999:
		return &FieldError{"time", fmt.Errorf("%w: year %d", ErrBadTime, o.Time.Year())}
	}
	if err := geo.CheckLatitude(o.Point.Lat()); err != nil {
		return &FieldError{"lat", err}
	}
	if err := geo.CheckLongitude(o.Point.Lon()); err != nil {
		return &FieldError{"lon", err}
	}
	if o.Weight < 0 || o.Weight != o.Weight || o.Weight > 1e15 {
		return &FieldError{"weight", fmt.Errorf("%w: %v", ErrBadValue, o.Weight)}
	}
	for _, f := range [...]struct{ name, v string }{
		{"place", o.Place}, {"kind", o.Kind}, {"title", o.Title}, {"url", o.URL},
	} {
		if len(f.v) > MaxTextBytes {
			return &FieldError{f.name, ErrTooLong}
		}
		if !utf8.ValidString(f.v) {
			return &FieldError{f.name, ErrBadUTF8}
		}
	}
	if len(o.Properties) > 4*MaxTextBytes {
		return &FieldError{"properties", ErrTooLong}
	}
	if len(o.Properties) > 0 && !json.Valid(o.Properties) {
		return &FieldError{"properties", fmt.Errorf("%w: not JSON", ErrBadValue)}
	}
	return nil
}

// Normalize fills defaults before validation: UTC time, weight 1 when unset,
// and control characters other than tab and newline in the place, kind,
// title and URL replaced by U+FFFD: a NUL cuts the text short in GDAL and the
// sqlite3 shell, and an escape or carriage return garbles a terminal. The
// record's properties keep what was sent (JSON escapes them).
func (o *Observation) Normalize() {
	o.Time = o.Time.UTC()
	if !o.Revised.IsZero() {
		o.Revised = o.Revised.UTC()
	}
	if o.Weight == 0 {
		o.Weight = 1
	}
	o.Place = ReplaceControl(o.Place)
	o.Kind = ReplaceControl(o.Kind)
	o.Title = ReplaceControl(o.Title)
	o.URL = ReplaceControl(o.URL)
}

// EchoID returns id as a locator may quote it: whole up to MaxIDBytes, else
// cut on a rune boundary with a marker saying how much was left out, so that
// a huge bad id is not echoed back whole into answers, logs and the rejects
// table.
func EchoID(id string) string {
	if len(id) <= MaxIDBytes {
		return id
	}
	cut := MaxIDBytes
	for cut > 0 && !utf8.RuneStart(id[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d more bytes)", id[:cut], len(id)-cut)
}

// ReplaceControl returns s with every control character but tab and newline
// (C0, DEL and C1) replaced by U+FFFD; s itself when it has none, and invalid
// UTF-8 is left for Validate to refuse.
func ReplaceControl(s string) string {
	if strings.IndexFunc(s, badControl) < 0 || !utf8.ValidString(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if badControl(r) {
			return utf8.RuneError
		}
		return r
	}, s)
}

func badControl(r rune) bool { return r != '\t' && r != '\n' && unicode.IsControl(r) }
