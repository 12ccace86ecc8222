package sink_test

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor/sink"
)

// newServer serves h on 127.0.0.1 only.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func newWebhook(t *testing.T, url string, opt sink.WebhookOptions) *sink.Webhook {
	t.Helper()
	if opt.Backoff == 0 {
		opt.Backoff = time.Millisecond // keep the tests fast; the default is 500ms
	}
	w, err := sink.NewWebhook(url, opt)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookBody(t *testing.T) {
	type request struct {
		method string
		header http.Header
		body   []byte
	}
	got := make(chan request, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{r.Method, r.Header, body}
		w.WriteHeader(http.StatusNoContent)
	})
	wh := newWebhook(t, srv.URL+"/hooks/s3cret", sink.WebhookOptions{Headers: map[string]string{"Authorization": "Bearer t0ken"}})
	if err := wh.Notify(t.Context(), firing()); err != nil {
		t.Fatal(err)
	}
	req := <-got
	if req.method != http.MethodPost {
		t.Errorf("method %s, want POST", req.method)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "Authorization": "Bearer t0ken"} {
		if v := req.header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if ua := req.header.Get("User-Agent"); !strings.HasPrefix(ua, "geowatch/") {
		t.Errorf("User-Agent = %q, want geowatch/…", ua)
	}
	// The body is the alerts file's line for the same event.
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := openFile(t, path).Notify(t.Context(), firing()); err != nil {
		t.Fatal(err)
	}
	line, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var gotObj, wantObj map[string]any
	if err := json.Unmarshal(req.body, &gotObj); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, req.body)
	}
	if err := json.Unmarshal(line, &wantObj); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotObj, wantObj) {
		t.Errorf("body\n got %s\nwant %s", req.body, line)
	}
	if strings.Contains(wh.Name(), "s3cret") {
		t.Errorf("Name() = %q shows the URL's path", wh.Name())
	}
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int // answers in order; the last repeats
		retries  int
		wantErr  bool
		wantHits int32
		wantCode int // the StatusError's code when wantErr
	}{
		{"503 then 200", []int{503, 200}, 3, false, 2, 0},
		{"429 twice then 200", []int{429, 429, 200}, 3, false, 3, 0},
		{"always 500", []int{500}, 2, true, 3, 500},
		{"400 is permanent", []int{400}, 3, true, 1, 400},
		{"404 is permanent", []int{404}, 3, true, 1, 404},
		{"redirect is not followed", []int{302}, 3, true, 1, 302},
		{"no retries", []int{503}, -1, true, 1, 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				n := int(hits.Add(1))
				code := tc.statuses[min(n, len(tc.statuses))-1]
				if code == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(code)
				io.WriteString(w, "no thanks")
			})
			err := newWebhook(t, srv.URL, sink.WebhookOptions{MaxRetries: tc.retries}).Notify(t.Context(), firing())
			if (err != nil) != tc.wantErr {
				t.Fatalf("Notify = %v, want error %v", err, tc.wantErr)
			}
			if got := hits.Load(); got != tc.wantHits {
				t.Errorf("%d requests, want %d", got, tc.wantHits)
			}
			if tc.wantErr {
				var se *sink.StatusError
				if !errors.As(err, &se) || se.Code != tc.wantCode || se.Body != "no thanks" {
					t.Errorf("Notify = %v, want a StatusError %d with the body", err, tc.wantCode)
				}
			}
		})
	}
}

func TestWebhookDown(t *testing.T) {
	srv := newServer(t, func(http.ResponseWriter, *http.Request) {})
	url := srv.URL + "/hooks/s3cret"
	srv.Close() // nothing listens on the port now: connection refused
	start := time.Now()
	err := newWebhook(t, url, sink.WebhookOptions{Timeout: time.Minute}).Notify(t.Context(), firing())
	if err == nil {
		t.Fatal("Notify to a closed port = nil, want an error")
	}
	// Refusals are retried, but not until the timeout: well under it.
	if d := time.Since(start); d >= time.Minute {
		t.Errorf("Notify took %v, want well under the 1m timeout", d)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the URL's path", err)
	}
}

func TestWebhookBoundedByTimeout(t *testing.T) {
	// A server slower than the timeout: each attempt times out, and the retries
	// stop when twice the timeout has passed, not after MaxRetries timeouts.
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	var attempts int
	wh := newWebhook(t, srv.URL, sink.WebhookOptions{
		Timeout: 50 * time.Millisecond, MaxRetries: 100,
		Client: &http.Client{Transport: countingTransport{&attempts}},
	})
	if err := wh.Notify(t.Context(), firing()); err == nil {
		t.Fatal("Notify to a hanging server = nil, want an error")
	}
	if attempts > 3 {
		t.Errorf("%d attempts within twice the timeout, want at most 3", attempts)
	}
}

type countingTransport struct{ n *int }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	*c.n++
	return http.DefaultTransport.RoundTrip(r)
}

func TestNewWebhookURL(t *testing.T) {
	for _, u := range []string{"", "ftp://example.org/x", "/relative", "http://"} {
		if _, err := sink.NewWebhook(u, sink.WebhookOptions{}); err == nil {
			t.Errorf("NewWebhook(%q) = nil error, want one", u)
		}
	}
}
