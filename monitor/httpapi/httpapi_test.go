package httpapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestServer(t *testing.T) {
	var storeErr error
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "pushed")
	})
	s, err := Listen(Options{
		Addr:  "127.0.0.1:0",
		Ready: []ReadyCheck{{Name: "store", Check: func(context.Context) error { return storeErr }}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	base := "http://" + s.Addr().String()
	get := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name         string
		method, path string
		setup        func()
		code         int
		body         string
	}{
		{"healthz", "GET", "/healthz", nil, 200, "ok\n"},
		{"ready", "GET", "/readyz", nil, 200, "ok\n"},
		{"store down", "GET", "/readyz", func() { storeErr = errors.New("store: ping /var/lib/x.db: disk I/O error") }, 503, "not ready: store\n"},
		{"store back", "GET", "/readyz", func() { storeErr = nil }, 200, "ok\n"},
		{"no push", "POST", PushPath, nil, 404, "404 page not found\n"},
		{"no metrics", "GET", "/metrics", nil, 404, "404 page not found\n"},
	}
	for _, tc := range tests {
		if tc.setup != nil {
			tc.setup()
		}
		if code, body := get(tc.method, tc.path); code != tc.code || body != tc.body {
			t.Errorf("%s: %s %s = %d %q, want %d %q", tc.name, tc.method, tc.path, code, body, tc.code, tc.body)
		}
	}

	// A push in flight when the stop comes is finished, not cut.
	s.SetPush(slow)
	result := make(chan string, 1)
	go func() {
		resp, err := http.Post(base+PushPath, "application/json", nil)
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- string(b)
	}()
	<-arrived
	stop()
	// Shutdown has begun once the listener refuses new connections.
	for {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(time.Millisecond)
	}
	close(release)
	if got := <-result; got != "pushed" {
		t.Errorf("push in flight during shutdown got %q, want pushed", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestListenInUse(t *testing.T) {
	s, err := Listen(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Listen(Options{Addr: s.Addr().String()}); err == nil {
		t.Errorf("Listen on %s in use = nil error", s.Addr())
	}
}

// TestReadRoutes: the read handler gets every path the server does not serve
// itself and the GETs of the push path; POSTs there stay the push handler's.
func TestReadRoutes(t *testing.T) {
	tag := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name+" "+r.Method+" "+r.URL.Path) })
	}
	s, err := Listen(Options{Addr: "127.0.0.1:0", Read: tag("read"), Push: tag("push")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	base := "http://" + s.Addr().String()
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/", "read GET /"},
		{"GET", "/v1/alerts", "read GET /v1/alerts"},
		{"GET", PushPath, "read GET " + PushPath},
		{"HEAD", PushPath, ""},
		{"POST", PushPath, "push POST " + PushPath},
		{"GET", "/healthz", "ok\n"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.method, tc.path, b, tc.want)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
