package geojson

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and accounts for every record: an
// unreadable document is an error with nothing parsed; otherwise each feature
// is either an observation that passes Validate or a reject that says why.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*json")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		feature(`"a"`, `{"type":"Polygon","coordinates":[[[0,0],[3,0],[3,3],[2,3],[2,1],[1,1],[1,3],[0,3],[0,0]]]}`, `{"time":"2019-04-24T10:15:00+10:00"}`),
		feature(`7`, `{"type":"GeometryCollection","geometries":[{"type":"LineString","coordinates":[[0,0],[0,1]]}]}`, `null`),
		feature(`"a"`, okPoint, okProps) + "\n" + feature(`"b"`, `{"type":"Point","coordinates":[0,91]}`, okProps) + "\nnot json\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data, Options{})
		if err != nil {
			if len(b.Observations)+len(b.Rejects) != 0 {
				t.Fatalf("error %v with %d observations, %d rejects", err, len(b.Observations), len(b.Rejects))
			}
			return
		}
		if got, want := len(b.Observations)+len(b.Rejects), countFeatures(data); got != want {
			t.Fatalf("observations %d + rejects %d = %d, want %d features", len(b.Observations), len(b.Rejects), got, want)
		}
		for _, o := range b.Observations {
			if err := o.Validate(); err != nil {
				t.Fatalf("observation %q: %v", o.ID, err)
			}
		}
		for _, r := range b.Rejects {
			if r.Record == "" || r.Field == "" || r.Err == nil {
				t.Fatalf("reject without locator, field or error: %+v", r)
			}
		}
	})
}

// countFeatures counts the records of a document Parse accepted: the features
// of a collection, one for a Feature, else the non-blank lines.
func countFeatures(data []byte) int {
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if json.Valid(data) {
		var head struct {
			Type     string
			Features []json.RawMessage
		}
		_ = json.Unmarshal(data, &head) // Parse has already refused documents where this fails
		if head.Type == "Feature" {
			return 1
		}
		return len(head.Features)
	}
	var n int
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(bytes.TrimLeft(line, "\x1e"))) > 0 {
			n++
		}
	}
	return n
}
