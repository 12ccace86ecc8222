package csv

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/geowatch/geowatch/monitor/source/httpfeed"
)

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipped makes a zip of the named files, in order.
func zipped(t testing.TB, files ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		w, err := zw.Create(files[i].(string))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(files[i+1].([]byte)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseCompressed(t *testing.T) {
	usgs := readShared(t, usgsMonth)
	gdelt := readShared(t, gdelt2Day)
	tests := []struct {
		name, preset string
		data         []byte
		stored, rej  int
	}{
		{"usgs gzip", "usgs-csv", gzipped(t, usgs), 15410, 0},
		{"usgs zip", "usgs-csv", zipped(t, "all_month.csv", usgs), 15410, 0},
		// As GDELT publishes it: 20191024143000.export.CSV.zip; 38 rows unlocated, 51 stale.
		{"gdelt2 zip", "gdelt2", zipped(t, "20191024143000.export.CSV", gdelt), 2022, 89},
		{"gdelt2 gzip", "gdelt2", gzipped(t, gdelt), 2022, 89},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse(bytes.NewReader(tc.data), Options{Preset: tc.preset})
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Observations) != tc.stored || len(b.Rejects) != tc.rej {
				t.Errorf("got %d observations, %d rejects; want %d, %d", len(b.Observations), len(b.Rejects), tc.stored, tc.rej)
			}
		})
	}
}

func TestParseContainerErrors(t *testing.T) {
	doc := []byte(plainHeader + "a,2020-05-09,1,2,k,p,t,u,1,exact\n")
	bomb := bytes.Repeat([]byte("a,2020-05-09,1,2,k,p,t,u,1,exact\n"), 1<<15) // 1 MiB, compresses ~1000:1
	limited := plainOpt
	limited.MaxBytes = 64 << 10
	tests := []struct {
		name string
		data []byte
		opt  Options
		want error
	}{
		{"zip of two files", zipped(t, "a.csv", doc, "b.csv", doc), plainOpt, ErrNotCSV},
		{"empty zip", zipped(t), plainOpt, ErrNotCSV},
		{"gzip bomb", gzipped(t, append(bytes.Clone(doc), bomb...)), limited, httpfeed.ErrTooLarge},
		{"zip bomb", zipped(t, "x.csv", append(bytes.Clone(doc), bomb...)), limited, httpfeed.ErrTooLarge},
		{"plain past the cap", append(bytes.Clone(doc), bomb...), limited, httpfeed.ErrTooLarge},
		{"truncated gzip", gzipped(t, doc)[:40], plainOpt, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse(bytes.NewReader(tc.data), tc.opt)
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse error = %v, want %v", err, tc.want)
			}
			if len(b.Observations)+len(b.Rejects) != 0 {
				t.Errorf("error with %d observations, %d rejects", len(b.Observations), len(b.Rejects))
			}
		})
	}
}

func TestZipSizeFromHeader(t *testing.T) {
	// A zip whose header gives a size over the cap fails before inflating.
	data := zipped(t, "x.csv", []byte(plainHeader+strings.Repeat("a,2020-05-09,1,2,k,p,t,u,1,exact\n", 4096)))
	r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if r.File[0].UncompressedSize64 < 100<<10 {
		t.Fatalf("test zip too small: %d", r.File[0].UncompressedSize64)
	}
	opt := plainOpt
	opt.MaxBytes = 1 << 10
	if _, err := Parse(bytes.NewReader(data), opt); !errors.Is(err, httpfeed.ErrTooLarge) || !strings.Contains(err.Error(), "x.csv") {
		t.Errorf("Parse error = %v, want %v", err, httpfeed.ErrTooLarge)
	}
}

func TestCapReaderExact(t *testing.T) {
	// Exactly the cap is fine; one byte more is not.
	for _, tc := range []struct {
		n       int
		wantErr bool
	}{{10, false}, {11, true}} {
		got, err := io.ReadAll(capped(strings.NewReader(strings.Repeat("x", tc.n)), 10, nil))
		if (err != nil) != tc.wantErr || len(got) > 10 {
			t.Errorf("read %d bytes capped at 10: %d bytes, %v; want error %v", tc.n, len(got), err, tc.wantErr)
		}
	}
}
