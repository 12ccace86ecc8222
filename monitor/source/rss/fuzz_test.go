package rss

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/geowatch/geowatch/geo/gazetteer"
)

// FuzzParse checks that Parse never panics, and either fails as a whole or
// gives observations that pass Validate and rejects that say why.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.*")
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
	f.Add([]byte(`{"version":"https://jsonfeed.org/version/1.1","title":"j","items":[{"id":"1","content_text":"Vladivostok"}]}`))
	gz := gazetteer.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data, gz, Options{Now: now})
		if err != nil {
			if len(b.Observations)+len(b.Rejects) != 0 {
				t.Fatalf("error %v with %d observations, %d rejects", err, len(b.Observations), len(b.Rejects))
			}
			return
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

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/plain.rss")
	if err != nil {
		b.Fatal(err)
	}
	gz := gazetteer.Default()
	items := 0
	for b.Loop() {
		if _, err := Parse(data, gz, Options{Now: now}); err != nil {
			b.Fatal(err)
		}
		items += 3 // the items of plain.rss

	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
}
