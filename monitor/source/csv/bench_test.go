package csv

import (
	"bytes"
	"testing"
)

// BenchmarkParse parses each preset's largest file, reporting rows per second.
func BenchmarkParse(b *testing.B) {
	gdelt1 := readTestdata(b, "gdelt1-mixed-57-58.tsv")
	for _, bc := range []struct {
		preset string
		data   []byte
	}{
		{"usgs-csv", readShared(b, usgsMonth)},
		{"gdelt2", readShared(b, gdelt2Day)},
		{"gdelt1", bytes.Repeat(gdelt1, 70)}, // 2,100 rows, the size of a 2.0 export
		{"acled", readTestdata(b, "acled-synthetic.csv")},
	} {
		b.Run(bc.preset, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			var n int
			for b.Loop() {
				n += mustParse(b, bc.data, bc.preset)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func mustParse(b *testing.B, data []byte, preset string) int {
	b.Helper()
	batch, err := Parse(bytes.NewReader(data), Options{Preset: preset})
	if err != nil {
		b.Fatal(err)
	}
	return len(batch.Observations) + len(batch.Rejects)
}
