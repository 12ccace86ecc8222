package csv

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// plainOpt reads the small generic files of these tests.
var plainOpt = Options{
	Header: true,
	Fields: Fields{
		ID: "id", Time: "time", Lat: "lat", Lon: "lon", Kind: "kind", Place: "place",
		Text: "text", URL: "url", Weight: "weight", Precision: "precision",
	},
}

const plainHeader = "id,time,lat,lon,kind,place,text,url,weight,precision\n"

func TestParseRow(t *testing.T) {
	b, err := Parse(strings.NewReader(plainHeader+
		`a1,2020-05-09T10:00:00+02:00,59.93,30.31,fire,"Saint Petersburg, Russia",Smoke seen,https://example.org/a1,2.5,city`+"\n"), plainOpt)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Observations) != 1 || len(b.Rejects) != 0 {
		t.Fatalf("got %d observations, %d rejects %v; want 1, 0", len(b.Observations), len(b.Rejects), b.Rejects)
	}
	got := b.Observations[0]
	want := monitor.Observation{
		ID: "a1", Time: time.Date(2020, 5, 9, 8, 0, 0, 0, time.UTC), Point: orb.Point{30.31, 59.93},
		Place: "Saint Petersburg, Russia", Kind: "fire", Title: "Smoke seen", URL: "https://example.org/a1",
		Weight: 2.5, Precision: monitor.PrecisionCity,
		// Every column is in a field as read: nothing is left for properties.
	}
	if !equalObs(got, want) {
		t.Errorf("observation\n got %+v\nwant %+v", got, want)
	}
}

// TestParseProperties: properties keep the columns the fields do not hold as
// read, and the whole row with KeepRow.
func TestParseProperties(t *testing.T) {
	const header = "id,alt,time,lat,lon,kind,place,text,url,weight,precision,updated,note\n"
	tests := []struct {
		name, row string
		opt       func(*Options)
		want      string
	}{
		{"mapped columns left out", "a1,,2020-05-09T10:00:00+02:00,59.93,30.31,fire,Narva,Smoke,https://e.org/a,2.5,city,2020-05-10T00:00:00Z,seen twice", nil,
			`{"note":"seen twice"}`},
		{"keep_row", "a1,,2020-05-09T10:00:00+02:00,59.93,30.31,fire,Narva,Smoke,https://e.org/a,2.5,city,,seen twice", func(o *Options) { o.KeepRow = true },
			`{"id":"a1","alt":"","time":"2020-05-09T10:00:00+02:00","lat":"59.93","lon":"30.31","kind":"fire","place":"Narva","text":"Smoke",` +
				`"url":"https://e.org/a","weight":"2.5","precision":"city","updated":"","note":"seen twice"}`},
		{"a value the field changed is kept", "a1,,2020-05-09T10:00:00Z,59.93,30.31,fire,\"Nar\x00va\",Smoke,,,,,", nil,
			`{"place":"Nar\u0000va"}`},
		{"an empty kind defaulted is left out", "a1,,2020-05-09T10:00:00Z,59.93,30.31,,,,,,,,", func(o *Options) { o.DefaultKind = "report" }, ``},
		{"an id fallback taken is left out, one not taken kept", "a1,b1,2020-05-09T10:00:00Z,59.93,30.31,,,,,,,,", func(o *Options) { o.Fields.IDFallback = "alt" },
			`{"alt":"b1"}`},
		{"", ",b1,2020-05-09T10:00:00Z,59.93,30.31,,,,,,,,", func(o *Options) { o.Fields.IDFallback = "alt" }, ``},
		{"precision codes are kept", "a1,,2020-05-09T10:00:00Z,59.93,30.31,,,,,,4,,", func(o *Options) {
			o.Precisions = map[string]monitor.Precision{"4": monitor.PrecisionCity}
		}, `{"precision":"4"}`},
		{"an updated time that does not parse is kept", "a1,,2020-05-09T10:00:00Z,59.93,30.31,,,,,,,yesterday,", nil, `{"updated":"yesterday"}`},
	}
	for _, tc := range tests {
		opt := plainOpt
		opt.Fields.Updated = "updated"
		if tc.opt != nil {
			tc.opt(&opt)
		}
		b, err := Parse(strings.NewReader(header+tc.row+"\n"), opt)
		if err != nil || len(b.Observations) != 1 {
			t.Fatalf("%s: %v, %d observations %v", tc.name, err, len(b.Observations), b.Rejects)
		}
		if got := string(b.Observations[0].Properties); got != tc.want {
			t.Errorf("%s: properties %s, want %s", tc.name, got, tc.want)
		}
	}
}

// equalObs compares observations, their times with Equal and their
// properties as bytes.
func equalObs(a, b monitor.Observation) bool {
	return a.Time.Equal(b.Time) && string(a.Properties) == string(b.Properties) && a.Geometry == nil && b.Geometry == nil &&
		a.ID == b.ID && a.Source == b.Source && a.Point == b.Point && a.Place == b.Place && a.Kind == b.Kind &&
		a.Title == b.Title && a.URL == b.URL && a.Weight == b.Weight && a.Precision == b.Precision
}

func TestParseBadRows(t *testing.T) {
	const good = "2020-05-09T10:00:00Z,10,20,k,p,t,u,1,exact"
	tests := []struct {
		name, row    string
		field        string
		err          error
		record       string // default "line 2 (id x)"
		wantRawEqual bool   // the row comes back as it was
	}{
		{name: "missing id", row: "," + good, field: "id", err: monitor.ErrMissing, record: "line 2", wantRawEqual: true},
		{name: "missing time", row: "x,,10,20,k,p,t,u,1,exact", field: "time", err: monitor.ErrMissing},
		{name: "bad time", row: "x,yesterday,10,20,k,p,t,u,1,exact", field: "time", err: monitor.ErrBadTime, wantRawEqual: true},
		{name: "lat 95", row: "x,2020-05-09,95,20,k,p,t,u,1,exact", field: "lat", err: geo.ErrLatitudeRange},
		{name: "lon -181", row: "x,2020-05-09,10,-181,k,p,t,u,1,exact", field: "lon", err: geo.ErrLongitudeRange},
		{name: "lat NaN", row: "x,2020-05-09,NaN,20,k,p,t,u,1,exact", field: "lat", err: geo.ErrNotFinite},
		{name: "lon Inf", row: "x,2020-05-09,10,+Inf,k,p,t,u,1,exact", field: "lon", err: geo.ErrNotFinite},
		{name: "lat not a number", row: "x,2020-05-09,north,20,k,p,t,u,1,exact", field: "lat", err: monitor.ErrBadValue},
		{name: "lon missing", row: "x,2020-05-09,10, ,k,p,t,u,1,exact", field: "lon", err: monitor.ErrMissing},
		{name: "short row", row: "x,2020-05-09,10,20", field: "kind", err: ErrColumnCount, record: "line 2", wantRawEqual: true},
		{name: "long row", row: "x," + good + ",extra", field: "#11", err: ErrColumnCount, record: "line 2"},
		{name: "negative weight", row: "x,2020-05-09,10,20,k,p,t,u,-1,exact", field: "weight", err: monitor.ErrBadValue},
		{name: "weight not a number", row: "x,2020-05-09,10,20,k,p,t,u,lots,exact", field: "weight", err: monitor.ErrBadValue},
		{name: "unknown precision", row: "x,2020-05-09,10,20,k,p,t,u,1,vague", field: "precision", err: monitor.ErrBadValue},
		{name: "bad UTF-8 text", row: "x,2020-05-09,10,20,k,p,\xff,u,1,exact", field: "text", err: monitor.ErrBadUTF8},
		{name: "id too long", row: strings.Repeat("x", monitor.MaxIDBytes+1) + "," + good, field: "id", err: monitor.ErrTooLong, record: "line 2 (id " + strings.Repeat("x", monitor.MaxIDBytes) + "…(1 more bytes))"},
		{name: "bare quote", row: `x,2020-05-09,10,20,k,p,say "hi",u,1,exact`, field: "row", err: csv.ErrBareQuote, record: "line 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A good row after the bad one shows the reader goes on.
			b, err := Parse(strings.NewReader(plainHeader+tc.row+"\nok,"+good+"\n"), plainOpt)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Rejects) != 1 || len(b.Observations) != 1 {
				t.Fatalf("got %d observations, %d rejects %v; want 1, 1", len(b.Observations), len(b.Rejects), b.Rejects)
			}
			r := b.Rejects[0]
			record := tc.record
			if record == "" {
				record = "line 2 (id x)"
			}
			if r.Record != record || r.Field != tc.field || !errors.Is(r.Err, tc.err) {
				t.Errorf("reject = %q, %q, %v; want %q, %q, %v", r.Record, r.Field, r.Err, record, tc.field, tc.err)
			}
			if tc.wantRawEqual && r.Raw != tc.row {
				t.Errorf("raw = %q, want %q", r.Raw, tc.row)
			}
			if b.Observations[0].ID != "ok" {
				t.Errorf("observation id = %q, want ok", b.Observations[0].ID)
			}
		})
	}
}

func TestParseDocumentErrors(t *testing.T) {
	gdelt2 := Options{Preset: "gdelt2"}
	tests := []struct {
		name, doc string
		opt       Options
	}{
		{"empty with header", "", plainOpt},
		{"header lacks a mapped column", "id,time,lat\n1,2020-05-09,10\n", plainOpt},
		{"HTML for a headered format", "<html><body>rate limited</body></html>\n", Options{Preset: "usgs-csv"}},
		{"HTML for a headerless format", "<html><body>rate limited</body></html>\n", gdelt2},
		{"bad quote in header", "id,\"time\n", plainOpt},
		{"broken gzip", "\x1f\x8b\x08\x00garbage", plainOpt},
		{"broken zip", "PK\x03\x04garbage", plainOpt},
		{"index past the last column", "a,b\n1,2\n", Options{Fields: Fields{ID: "#1", Time: "#2", Lat: "#3", Lon: "#4"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse(strings.NewReader(tc.doc), tc.opt)
			if !errors.Is(err, ErrNotCSV) {
				t.Errorf("Parse error = %v, want %v", err, ErrNotCSV)
			}
			if len(b.Observations)+len(b.Rejects) != 0 {
				t.Errorf("error with %d observations, %d rejects", len(b.Observations), len(b.Rejects))
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opt     Options
		wantErr string // a substring; empty for none
	}{
		{"every preset", Options{Preset: "acled"}, ""},
		{"preset with an override", Options{Preset: "gdelt2", Fields: Fields{Kind: "EventRootCode"}}, ""},
		{"unknown preset", Options{Preset: "gdelt3"}, `preset "gdelt3": unknown`},
		{"no id", Options{Fields: Fields{Time: "t", Lat: "y", Lon: "x"}}, "fields.id: not set"},
		{"no lon", Options{Fields: Fields{ID: "i", Time: "t", Lat: "y"}}, "fields.lon: not set"},
		{"quote delimiter", Options{Delimiter: '"', Fields: Fields{ID: "i", Time: "t", Lat: "y", Lon: "x"}}, "delimiter"},
		{"columns with a header", Options{Preset: "usgs-csv", Columns: []string{"a"}}, "columns"},
		{"min_columns past columns", Options{Preset: "gdelt1", MinColumns: 59}, "min_columns"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opt.Validate()
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	for _, name := range PresetNames() {
		if err := (Options{Preset: name}).Validate(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
}

func TestPreset(t *testing.T) {
	o, err := Preset("gdelt2")
	if err != nil {
		t.Fatal(err)
	}
	if o.Preset != "gdelt2" || o.Delimiter != '\t' || len(o.Columns) != 61 || o.Fields.Lat != "ActionGeo_Lat" {
		t.Errorf("Preset(gdelt2) = %+v", o)
	}
	o.Columns[0] = "changed" // a copy: the preset stays as it was
	if p, _ := Preset("gdelt2"); p.Columns[0] != "GLOBALEVENTID" {
		t.Errorf("Preset returned the preset's own slice")
	}
	if _, err := Preset("nope"); err == nil {
		t.Error("Preset(nope): no error")
	}
}

func TestParseTimes(t *testing.T) {
	at := time.Date(2020, 5, 9, 8, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		layouts []string
		in      string
		want    time.Time
	}{
		{"RFC 3339 by default", nil, "2020-05-09T10:30:00+02:00", at},
		{"date only by default", nil, "2020-05-09", time.Date(2020, 5, 9, 0, 0, 0, 0, time.UTC)},
		{"epoch ms", []string{EpochMillis}, "1589013000000", at},
		{"epoch s", []string{EpochSeconds}, "1589013000", at},
		{"epoch s with a fraction", []string{EpochSeconds}, "1589013000.5", at.Add(500 * time.Millisecond)},
		{"second layout", []string{"20060102", "20060102150405"}, "20200509083000", at},
		{"layout then epoch", []string{"2006-01-02", EpochSeconds}, "1589013000", at},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt := Options{Columns: []string{"id", "t", "y", "x"}, Fields: Fields{ID: "id", Time: "t", TimeLayout: tc.layouts, Lat: "y", Lon: "x"}}
			b, err := Parse(strings.NewReader("a,"+tc.in+",1,2\n"), opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Observations) != 1 {
				t.Fatalf("rejects %v", b.Rejects)
			}
			if got := b.Observations[0].Time; !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("time of %q = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	opt := Options{Columns: []string{"id", "t", "y", "x"}, Fields: Fields{ID: "id", Time: "t", TimeLayout: []string{EpochMillis}, Lat: "y", Lon: "x"}}
	b, err := Parse(strings.NewReader("a,1e300,1,2\n"), opt)
	if err != nil || len(b.Rejects) != 1 || !errors.Is(b.Rejects[0].Err, monitor.ErrBadTime) {
		t.Errorf("absurd epoch: %v, rejects %v; want one reject for %v", err, b.Rejects, monitor.ErrBadTime)
	}
}

func TestParseHeaderless(t *testing.T) {
	// Without a header or Columns the columns are "#1"…; the BOM is dropped.
	doc := "\xef\xbb\xbfa;10.5;20;2020-05-09\nb;95;20;2020-05-09\nc;1;2\n"
	b, err := Parse(strings.NewReader(doc), Options{Delimiter: ';', DefaultKind: "sighting", Fields: Fields{ID: "#1", Lat: "#2", Lon: "#3", Time: "#4"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Observations) != 1 || len(b.Rejects) != 2 {
		t.Fatalf("got %d observations, %d rejects; want 1, 2", len(b.Observations), len(b.Rejects))
	}
	o := b.Observations[0]
	if o.ID != "a" || o.Kind != "sighting" || o.Point != (orb.Point{20, 10.5}) || o.Properties != nil {
		t.Errorf("observation = %+v", o)
	}
	for i, want := range []monitor.Reject{
		{Record: "line 2 (id b)", Field: "#2", Err: geo.ErrLatitudeRange},
		{Record: "line 3", Field: "#4", Err: ErrColumnCount},
	} {
		if r := b.Rejects[i]; r.Record != want.Record || r.Field != want.Field || !errors.Is(r.Err, want.Err) {
			t.Errorf("reject %d = %q %q %v, want %q %q %v", i, r.Record, r.Field, r.Err, want.Record, want.Field, want.Err)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\`, "tab\tnl\ncr\r\x00\x1f", "Zénda – ok", "bad\xffutf8", "\u2028"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendJSONString(%q) = %s: %v", s, got, err)
			continue
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want {
			t.Errorf("appendJSONString(%q) reads back as %q, want %q", s, back, want)
		}
	}
}
