package httpfeed

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFetchFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "feed.geojson")
	if err := os.WriteFile(path, []byte(`{"type":"FeatureCollection","features":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := New(Options{})
	for _, target := range []string{path, "file://" + path, "file://localhost" + path} {
		r, err := f.Fetch(t.Context(), target)
		if err != nil {
			t.Fatalf("Fetch(%s): %v", target, err)
		}
		if !bytes.HasPrefix(r.Body, []byte(`{"type"`)) {
			t.Errorf("Fetch(%s) body = %q", target, r.Body)
		}
	}
	r, err := f.Fetch(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	f.Remember(r)
	if _, err := f.Fetch(t.Context(), path); !errors.Is(err, ErrNotModified) {
		t.Errorf("Fetch of an unchanged remembered file = %v, want ErrNotModified", err)
	}
	if _, err := f.Fetch(t.Context(), "file://"+path); err != nil {
		t.Errorf("validators are per target: Fetch(file://…) = %v, want the body", err)
	}

	for _, tc := range []struct {
		name, target string
		err          error
	}{
		{"missing", filepath.Join(dir, "nope.geojson"), os.ErrNotExist},
		{"directory", dir, nil},
		{"remote file host", "file://example.org/etc/passwd", nil},
		{"unsupported scheme", "ftp://example.org/feed.geojson", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Fetch(t.Context(), tc.target)
			if err == nil || !strings.Contains(err.Error(), "fetch "+tc.target+": ") {
				t.Fatalf("Fetch(%s) = %v, want an error naming it", tc.target, err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("Fetch(%s) = %v, want %v", tc.target, err, tc.err)
			}
		})
	}
}

func TestFetchTooLarge(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/plain":
			w.Write(big)
		case "/gzip": // 4 KiB that compress to a few bytes: the cap applies after decoding
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write(big)
			zw.Close()
		case "/small":
			w.Write(big[:1024])
		}
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	f := New(Options{MaxBytes: 1024})
	for _, target := range []string{srv.URL + "/plain", srv.URL + "/gzip", path} {
		if _, err := f.Fetch(t.Context(), target); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Fetch(%s) = %v, want ErrTooLarge", target, err)
		}
	}
	if r, err := f.Fetch(t.Context(), srv.URL+"/small"); err != nil || len(r.Body) != 1024 {
		t.Errorf("Fetch of exactly MaxBytes = %v, want the body", err)
	}
}

func TestFetchLastModifiedOnly(t *testing.T) {
	const lm = "Thu, 14 Jun 2018 09:19:39 GMT"
	var sawIMS string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawIMS = r.Header.Get("If-Modified-Since")
		if r.Header.Get("If-None-Match") != "" {
			t.Errorf("If-None-Match sent without an ETag")
		}
		if sawIMS == lm {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Last-Modified", lm)
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	f := New(Options{})
	r, err := f.Fetch(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// Not remembered yet: the next fetch is unconditional.
	if _, err := f.Fetch(t.Context(), srv.URL); err != nil || sawIMS != "" {
		t.Fatalf("Fetch before Remember = %v (If-Modified-Since %q), want a full response", err, sawIMS)
	}
	f.Remember(r)
	if _, err := f.Fetch(t.Context(), srv.URL); !errors.Is(err, ErrNotModified) || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("Fetch after Remember = %v, want ErrNotModified naming the URL", err)
	}
}

func TestRetryDelay(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"", 0, false},
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"-5", 0, false},
		{"99999999999999999", 365 * 24 * time.Hour, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"soon", 0, false},
	} {
		e := &StatusError{StatusCode: 503, Status: "503 Service Unavailable", RetryAfter: tc.header}
		if got, ok := e.RetryDelay(now); got != tc.want || ok != tc.ok {
			t.Errorf("RetryDelay(%q) = %v, %v, want %v, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}
