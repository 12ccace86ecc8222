package monitor_test

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/geojson"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
)

// nested returns JSON nested depth arrays deep inside an object.
func nested(depth int) string {
	return `{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
}

// TestHostileRecords sends hostile records through the engine into a real
// store. Each is either rejected with the field and sentinel named, or stored
// as sent.
func TestHostileRecords(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ok := func() monitor.Observation {
		return monitor.Observation{ID: "x", Time: now.Add(-time.Hour), Point: orb.Point{131.9, 43.1}, Kind: "report"}
	}
	mb := strings.Repeat("a", 1<<20)
	cases := []struct {
		name  string
		edit  func(*monitor.Observation)
		field string // "" means accepted and stored
		want  error
	}{
		{"NaN latitude", func(o *monitor.Observation) { o.Point[1] = math.NaN() }, "lat", geo.ErrNotFinite},
		{"+Inf longitude", func(o *monitor.Observation) { o.Point[0] = math.Inf(1) }, "lon", geo.ErrNotFinite},
		{"-Inf latitude", func(o *monitor.Observation) { o.Point[1] = math.Inf(-1) }, "lat", geo.ErrNotFinite},
		{"1e308 latitude", func(o *monitor.Observation) { o.Point[1] = 1e308 }, "lat", geo.ErrLatitudeRange},
		{"1e308 longitude", func(o *monitor.Observation) { o.Point[0] = -1e308 }, "lon", geo.ErrLongitudeRange},
		{"latitude 90.000001", func(o *monitor.Observation) { o.Point[1] = 90.000001 }, "lat", geo.ErrLatitudeRange},
		{"longitude 180.5", func(o *monitor.Observation) { o.Point[0] = 180.5 }, "lon", geo.ErrLongitudeRange},
		{"poles and antimeridian", func(o *monitor.Observation) { o.Point = orb.Point{-180, 90} }, "", nil},
		{"zero time", func(o *monitor.Observation) { o.Time = time.Time{} }, "time", monitor.ErrMissing},
		{"year 0", func(o *monitor.Observation) { o.Time = time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC) }, "time", monitor.ErrBadTime},
		{"year 10000", func(o *monitor.Observation) { o.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "time", monitor.ErrBadTime},
		// Accepted today: no bound on the future (see the report's max_future
		// proposal). The store keeps the time as sent.
		{"year 9999", func(o *monitor.Observation) { o.Time = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) }, "", nil},
		{"a century ahead", func(o *monitor.Observation) { o.Time = now.AddDate(100, 0, 0) }, "", nil},
		{"weight NaN", func(o *monitor.Observation) { o.Weight = math.NaN() }, "weight", monitor.ErrBadValue},
		{"weight +Inf", func(o *monitor.Observation) { o.Weight = math.Inf(1) }, "weight", monitor.ErrBadValue},
		{"weight -1", func(o *monitor.Observation) { o.Weight = -1 }, "weight", monitor.ErrBadValue},
		{"1 MB id", func(o *monitor.Observation) { o.ID = mb }, "id", monitor.ErrTooLong},
		{"1 MB title", func(o *monitor.Observation) { o.Title = mb }, "title", monitor.ErrTooLong},
		{"1 MB place", func(o *monitor.Observation) { o.Place = mb }, "place", monitor.ErrTooLong},
		{"1 MB properties", func(o *monitor.Observation) { o.Properties = []byte(`{"a":"` + mb + `"}`) }, "properties", monitor.ErrTooLong},
		{"properties nested 10000 deep", func(o *monitor.Observation) { o.Properties = []byte(nested(9999)) }, "", nil},
		{"properties nested 10001 deep", func(o *monitor.Observation) { o.Properties = []byte(nested(10000)) }, "properties", monitor.ErrBadValue},
		{"properties nested 100000 deep", func(o *monitor.Observation) { o.Properties = []byte(nested(100000)) }, "properties", monitor.ErrBadValue},
		{"invalid UTF-8 id", func(o *monitor.Observation) { o.ID = "a\xffb" }, "id", monitor.ErrBadUTF8},
		{"invalid UTF-8 title", func(o *monitor.Observation) { o.Title = "\xc3\x28" }, "title", monitor.ErrBadUTF8},
		{"NUL in id", func(o *monitor.Observation) { o.ID = "a\x00b" }, "id", monitor.ErrBadValue},
		{"newline in id", func(o *monitor.Observation) { o.ID = "a\nb" }, "id", monitor.ErrBadValue},
		{"escape in id", func(o *monitor.Observation) { o.ID = "\x1b[31mred" }, "id", monitor.ErrBadValue},
		{"DEL in id", func(o *monitor.Observation) { o.ID = "a\x7f" }, "id", monitor.ErrBadValue},
		{"C1 control in id", func(o *monitor.Observation) { o.ID = "a\u0085b" }, "id", monitor.ErrBadValue},
		{"tab in title", func(o *monitor.Observation) { o.Title = "a\tb\nc" }, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := ok()
			tc.edit(&o)
			o.Normalize()
			err := o.Validate()
			var fe *monitor.FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, tc.want)):
				t.Fatalf("Validate = %v, want field %s: %v", err, tc.field, tc.want)
			}
		})
	}

	// The same records in one batch through the engine: each lands exactly once,
	// as a row or a reject. The engine also rejects times more than
	// DefaultMaxFuture after ingest, which Validate alone cannot judge.
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "geowatch.gpkg"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := monitor.NewEngine(t.Context(), db, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	var b monitor.Batch
	wantRejected := 0
	for i, tc := range cases {
		o := ok()
		o.ID = "case-" + string(rune('A'+i))
		tc.edit(&o)
		b.Observations = append(b.Observations, o)
		if tc.field != "" || o.Time.After(now.Add(monitor.DefaultMaxFuture)) {
			wantRejected++
		}
	}
	res, err := e.Ingest(t.Context(), "hostile", b, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected != wantRejected || res.Added != len(cases)-wantRejected || res.Seen != len(cases) {
		t.Errorf("Ingest = %+v, want %d seen, %d rejected, %d added", res, len(cases), wantRejected, len(cases)-wantRejected)
	}
}

// TestIDsByteExact documents the id policy: ids are stored byte-exact. Forms
// that a person reads as the same id (NFC and NFD, a trailing space, another
// case) are different records.
func TestIDsByteExact(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "geowatch.gpkg"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := monitor.NewEngine(t.Context(), db, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ids := []string{"caf\u00e9", "cafe\u0301", "cafe", "cafe ", " cafe", "CAFE", "ｃａｆｅ"}
	var b monitor.Batch
	for _, id := range ids {
		b.Observations = append(b.Observations, monitor.Observation{ID: id, Time: now.Add(-time.Hour), Point: orb.Point{131.9, 43.1}})
	}
	res, err := e.Ingest(t.Context(), "ids", b, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != len(ids) {
		t.Fatalf("Ingest = %+v, want %d added: ids are byte-exact", res, len(ids))
	}
	obs, err := db.Observations(t.Context(), monitor.Query{Area: geo.Circle{Center: orb.Point{131.9, 43.1}, RadiusMeters: 1000}, Since: now.Add(-2 * time.Hour), Until: now})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, o := range obs {
		got[o.ID] = true
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("id %q not stored as sent", id)
		}
	}
}

// TestHostileGeoJSON parses documents built to exhaust the parser: deep nesting
// in properties and geometry, huge numbers. Parse must not crash (encoding/json
// stops at depth 10000) and must account for the document.
func TestHostileGeoJSON(t *testing.T) {
	feat := func(id, geom, props string) string {
		return `{"type":"Feature","id":"` + id + `","geometry":` + geom + `,"properties":` + props + `}`
	}
	point := `{"type":"Point","coordinates":[131.9,43.1]}`
	props := `{"time":"2024-05-01T10:00:00Z"}`
	for _, tc := range []struct {
		name      string
		doc       string
		wantErr   bool
		wantField string // the one feature's reject field; "" means accepted
	}{
		{"properties 100000 deep", feat("a", point, `{"time":"2024-05-01T10:00:00Z","x":`+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+`}`), true, ""},
		{"geometry 100000 deep", feat("a", `{"type":"Point","coordinates":`+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+`}`, props), true, ""},
		{"coordinates 1e308", feat("a", `{"type":"Point","coordinates":[1e308,1e308]}`, props), false, "geometry.coordinates"},
		{"coordinates 1e400", feat("a", `{"type":"Point","coordinates":[1e400,0]}`, props), false, "geometry"},
		{"1 MB id", feat(strings.Repeat("i", 1<<20), point, props), false, "id"},
		{"year 0", feat("a", point, `{"time":"0000-01-01T00:00:00Z"}`), false, "properties.time"},
		{"control character id", feat(`a\u0000b`, point, props), false, "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := geojson.Parse([]byte(tc.doc), geojson.Options{})
			if tc.wantErr {
				if err == nil && len(b.Rejects) == 0 {
					t.Fatalf("Parse accepted it: %d observations", len(b.Observations))
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.wantField == "" {
				if len(b.Observations) != 1 {
					t.Fatalf("got %d observations, %+v rejects; want it accepted", len(b.Observations), b.Rejects)
				}
				return
			}
			// The engine validates what a parser let through.
			for _, o := range b.Observations {
				if err := o.Validate(); err != nil {
					var fe *monitor.FieldError
					errors.As(err, &fe)
					b.Rejects = append(b.Rejects, monitor.Reject{Field: fe.Field, Err: fe.Err})
				}
			}
			if len(b.Rejects) != 1 || !strings.HasPrefix(b.Rejects[0].Field, tc.wantField) {
				t.Fatalf("rejects %+v, want one on %s", b.Rejects, tc.wantField)
			}
			t.Logf("rejected: %s: %v", b.Rejects[0].Field, b.Rejects[0].Err)
		})
	}
}

// TestControlCharactersReplaced documents the text policy: control characters
// other than tab and newline in place, kind, title and URL become U+FFFD (a
// NUL would cut the text short in GDAL and sqlite3); ids keep being refused.
func TestControlCharactersReplaced(t *testing.T) {
	o := monitor.Observation{ID: "x", Time: time.Now(), Place: "a\x00b", Kind: "k\x1b", Title: "t\tx\ny\rz\x7f\u0085", URL: "https://e.org/\x00"}
	o.Normalize()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	want := monitor.Observation{Place: "a\ufffdb", Kind: "k\ufffd", Title: "t\tx\ny\ufffdz\ufffd\ufffd", URL: "https://e.org/\ufffd"}
	if o.Place != want.Place || o.Kind != want.Kind || o.Title != want.Title || o.URL != want.URL {
		t.Errorf("normalised %q %q %q %q, want %q %q %q %q", o.Place, o.Kind, o.Title, o.URL, want.Place, want.Kind, want.Title, want.URL)
	}
	bad := monitor.Observation{ID: "x", Time: time.Now(), Title: "\xff\x00"}
	bad.Normalize()
	if err := bad.Validate(); !errors.Is(err, monitor.ErrBadUTF8) {
		t.Errorf("invalid UTF-8 with a NUL: Validate = %v, want ErrBadUTF8 (not repaired)", err)
	}
	if got := monitor.EchoID(strings.Repeat("é", 1<<19)); len(got) > monitor.MaxIDBytes+40 || !strings.HasSuffix(got, "…(1048320 more bytes)") {
		t.Errorf("EchoID of a 1 MiB id = %d bytes ending %q", len(got), got[len(got)-30:])
	}
}
