package geojson

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/httpfeed"
)

// collector is an EmitFunc that keeps batches, or fails with err.
type collector struct {
	batches []monitor.Batch
	err     error
}

func (c *collector) emit(_ context.Context, b monitor.Batch) error {
	if c.err != nil {
		return c.err
	}
	c.batches = append(c.batches, b)
	return nil
}

func TestSourceConditionalGzip(t *testing.T) {
	body, err := os.ReadFile("testdata/usgs-2018-06-kilauea-excerpt.geojson")
	if err != nil {
		t.Fatal(err)
	}
	const etag = `"v1"`
	lastModified := time.Date(2018, 6, 14, 9, 19, 39, 0, time.UTC).Format(http.TimeFormat)
	var requests, gzipped, conditional int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		if !strings.HasPrefix(r.UserAgent(), "geowatch/test (+https://github.com/geowatch/geowatch)") {
			t.Errorf("User-Agent = %q", r.UserAgent())
		}
		if r.Header.Get("If-None-Match") == etag && r.Header.Get("If-Modified-Since") == lastModified {
			conditional++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastModified)
		w.Header().Set("Content-Type", "application/geo+json")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			gzipped++
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write(body)
			zw.Close()
			return
		}
		w.Write(body)
	}))
	defer srv.Close()

	src := New(srv.URL+"/all_week.geojson", httpfeed.New(httpfeed.Options{Version: "test"}), Options{})
	ctx := t.Context()
	now := time.Date(2018, 6, 14, 9, 20, 0, 0, time.UTC)

	// The store is down: the batch is refused, so the next pull fetches in full.
	down := &collector{err: errors.New("store down")}
	if err := src.Pull(ctx, now, down.emit); err == nil || !errors.Is(err, down.err) {
		t.Fatalf("Pull with failing emit = %v, want the emit error", err)
	}
	var c collector
	if err := src.Pull(ctx, now, c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 1 || len(c.batches[0].Observations) != 6 || c.batches[0].Origin != srv.URL+"/all_week.geojson" {
		t.Fatalf("after refused batch: %d batches, want 1 of 6 observations from the URL", len(c.batches))
	}
	// Unchanged: a 304, nothing emitted.
	if err := src.Pull(ctx, now.Add(time.Minute), c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 1 {
		t.Errorf("after 304: %d batches, want still 1", len(c.batches))
	}
	if requests != 3 || gzipped != 2 || conditional != 1 {
		t.Errorf("requests, gzipped, conditional = %d, %d, %d; want 3, 2, 1", requests, gzipped, conditional)
	}
}

func TestSourceServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		http.Error(w, "overloaded", http.StatusInternalServerError)
	}))
	defer srv.Close()
	var c collector
	url := srv.URL + "/feed"
	err := New(url, httpfeed.New(httpfeed.Options{}), Options{}).Pull(t.Context(), time.Now(), c.emit)
	var se *httpfeed.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusInternalServerError || se.RetryAfter != "120" {
		t.Fatalf("Pull = %v, want a StatusError 500 with Retry-After 120", err)
	}
	if !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "500") {
		t.Errorf("error %q does not name the URL and status", err)
	}
	if len(c.batches) != 0 {
		t.Errorf("emitted %d batches on a 500", len(c.batches))
	}
}

func TestSourceNotGeoJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>maintenance</html>"))
	}))
	defer srv.Close()
	var c collector
	err := New(srv.URL, nil, Options{}).Pull(t.Context(), time.Now(), c.emit)
	if !errors.Is(err, ErrNotGeoJSON) || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("Pull = %v, want ErrNotGeoJSON naming the URL", err)
	}
}

func TestSourceFile(t *testing.T) {
	data, err := os.ReadFile("testdata/usgs-2014-04-solomon-excerpt.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/feed.ndjson"
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	src := New(path, httpfeed.New(httpfeed.Options{}), Options{})
	var c collector
	for range 2 { // the second pull finds the file unchanged
		if err := src.Pull(t.Context(), time.Now(), c.emit); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.batches) != 1 || len(c.batches[0].Observations) != 4 {
		t.Fatalf("got %d batches, want 1 with 4 observations", len(c.batches))
	}
	// Appending a record changes size and time: the next pull reads it all again.
	if err := os.WriteFile(path, append(bytes.Clone(data), data[:bytes.IndexByte(data, '\n')+1]...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := src.Pull(t.Context(), time.Now(), c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 2 || len(c.batches[1].Observations) != 5 {
		t.Errorf("after append: %d batches, want 2, the last with 5 observations", len(c.batches))
	}
}
