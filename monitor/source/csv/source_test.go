package csv

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/httpfeed"
)

// collect returns an EmitFunc that keeps the batches it is given.
func collect(batches *[]monitor.Batch) monitor.EmitFunc {
	return func(_ context.Context, b monitor.Batch) error {
		*batches = append(*batches, b)
		return nil
	}
}

func TestSourceHTTP(t *testing.T) {
	// Served zipped, as GDELT serves its exports.
	body := zipped(t, "20191024143000.export.CSV", readShared(t, gdelt2Day))
	var requests, notModified int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "application/zip")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	target := srv.URL + "/gdeltv2/20191024143000.export.CSV.zip"
	s := New(target, httpfeed.New(httpfeed.Options{}), Options{Preset: "gdelt2"})

	var batches []monitor.Batch
	if err := s.Pull(t.Context(), time.Now(), collect(&batches)); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 {
		t.Fatalf("first pull: %d batches, want 1", len(batches))
	}
	if b := batches[0]; b.Origin != target || len(b.Observations) != 2022 || len(b.Rejects) != 89 {
		t.Errorf("first pull: origin %q, %d observations, %d rejects; want %q, 2022, 89", b.Origin, len(b.Observations), len(b.Rejects), target)
	}
	if err := s.Pull(t.Context(), time.Now(), collect(&batches)); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 || requests != 2 || notModified != 1 {
		t.Errorf("second pull: %d batches, %d requests, %d not modified; want 1, 2, 1", len(batches), requests, notModified)
	}
}

func TestSourceRefusedBatchIsRefetched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acled.csv")
	if err := os.WriteFile(path, readTestdata(t, "acled-synthetic.csv"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(path, httpfeed.New(httpfeed.Options{}), Options{Preset: "acled"})
	refuse := errors.New("store down")
	err := s.Pull(t.Context(), time.Now(), func(context.Context, monitor.Batch) error { return refuse })
	if !errors.Is(err, refuse) {
		t.Fatalf("Pull with a refusing emit = %v, want %v", err, refuse)
	}
	var batches []monitor.Batch
	for range 2 { // the second pull finds the file unchanged
		if err := s.Pull(t.Context(), time.Now(), collect(&batches)); err != nil {
			t.Fatal(err)
		}
	}
	if len(batches) != 1 || len(batches[0].Observations) != 18 || len(batches[0].Rejects) != 2 {
		t.Errorf("got %d batches, want one of 18 observations and 2 rejects", len(batches))
	}
}

func TestSourceChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acled.csv")
	if err := os.WriteFile(path, readTestdata(t, "acled-synthetic.csv"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(path, httpfeed.New(httpfeed.Options{}), Options{Preset: "acled"})
	s.chunkRows = 8
	var batches []monitor.Batch
	if err := s.Pull(t.Context(), time.Now(), collect(&batches)); err != nil {
		t.Fatal(err)
	}
	// 20 rows on lines 2-22 (SYN1010 spans 11-12): 8 + 8 + 4.
	type chunk struct {
		origin      string
		stored, rej int
	}
	var got []chunk
	for _, b := range batches {
		got = append(got, chunk{b.Origin, len(b.Observations), len(b.Rejects)})
	}
	want := []chunk{
		{path + " (lines 2-9)", 8, 0},
		{path + " (lines 10-18)", 8, 0},
		{path + " (lines 19-22)", 2, 2},
	}
	if !slices.Equal(got, want) {
		t.Errorf("chunks\n got %v\nwant %v", got, want)
	}
}

func TestSourceErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			http.Error(w, "gone", http.StatusGone)
			return
		}
		_, _ = w.Write([]byte("<html>maintenance</html>\n"))
	}))
	defer srv.Close()
	fetch := httpfeed.New(httpfeed.Options{})
	var se *httpfeed.StatusError
	if err := New(srv.URL+"/gone", fetch, Options{Preset: "gdelt2"}).Pull(t.Context(), time.Now(), collect(new([]monitor.Batch))); !errors.As(err, &se) {
		t.Errorf("Pull of a 410 = %v, want a *httpfeed.StatusError", err)
	}
	var batches []monitor.Batch
	if err := New(srv.URL+"/page", fetch, Options{Preset: "gdelt2"}).Pull(t.Context(), time.Now(), collect(&batches)); !errors.Is(err, ErrNotCSV) || len(batches) != 0 {
		t.Errorf("Pull of an HTML page = %v with %d batches, want %v and none", err, len(batches), ErrNotCSV)
	}
}
