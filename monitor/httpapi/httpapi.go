// Package httpapi is geowatch's HTTP listener: liveness (/healthz), readiness
// (/readyz), Prometheus metrics (/metrics) and, when configured, the push
// endpoint (POST /v1/observations) and the read-only map and API (GET / and
// GET /v1/…, GET /v1/observations included), on one address with graceful
// shutdown.
//
// It imports zap and the standard library; the handlers it serves are built by
// their own packages (monitor/metrics, monitor/source/push) and passed in.
package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults for what Options leave out.
const (
	DefaultShutdownGrace = 10 * time.Second
	DefaultReadyTimeout  = 2 * time.Second
)

// PushPath is where the push handler is mounted.
const PushPath = "/v1/observations"

// ReadyCheck is one condition of readiness, such as "store" or "scheduler".
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configure a Server.
type Options struct {
	// Addr is the host:port to listen on.
	Addr string
	// Metrics serves /metrics; nil leaves it out.
	Metrics http.Handler
	// Push serves POST /v1/observations; nil answers 404 until SetPush.
	Push http.Handler
	// Read serves the read-only side: every path the others do not, and GET
	// and HEAD of /v1/observations. It guards itself (its token changes on
	// reload); nil answers 404.
	Read http.Handler
	// Ready lists what /readyz checks, in order; the first failure answers 503
	// naming it. Each check gets DefaultReadyTimeout.
	Ready []ReadyCheck
	// ShutdownGrace bounds how long Run waits for requests in flight once its
	// context is done; default DefaultShutdownGrace.
	ShutdownGrace time.Duration
	// StatusToken, when set, is the bearer token /metrics and /readyz need;
	// /healthz stays open (it tells nothing but that the process answers).
	StatusToken string
	// Log receives failures; default a no-op logger.
	Log *zap.Logger
}

// Server is the listener and its handlers.
type Server struct {
	opt  Options
	ln   net.Listener
	srv  *http.Server
	push atomic.Pointer[http.Handler]

	notReady atomic.Bool // last /readyz answer was 503, to log changes only
}

// Listen binds opt.Addr, so that a port in use is a startup error, and returns
// the server; Run serves on it.
func Listen(opt Options) (*Server, error) {
	if opt.ShutdownGrace <= 0 {
		opt.ShutdownGrace = DefaultShutdownGrace
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	ln, err := net.Listen("tcp", opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("httpapi: listen: %w", err)
	}
	s := &Server{opt: opt, ln: ln}
	s.SetPush(opt.Push)
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.Handle("/readyz", s.guard(http.HandlerFunc(s.readyz)))
	if opt.Metrics != nil {
		mux.Handle("/metrics", s.guard(opt.Metrics))
	}
	mux.HandleFunc(PushPath, s.servePush)
	if opt.Read != nil {
		mux.Handle("/", opt.Read)
	}
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// Bodies are capped by the push handler; this bounds a slow sender.
		ReadTimeout:  2 * time.Minute,
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     zap.NewStdLog(opt.Log.Named("http")),
	}
	return s, nil
}

// Addr returns the address the server listens on (with the port chosen when
// Options.Addr asked for port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// SetPush replaces the push handler (on reload); nil makes the endpoint 404.
func (s *Server) SetPush(h http.Handler) {
	if h == nil {
		s.push.Store(nil)
		return
	}
	s.push.Store(&h)
}

// Run serves until ctx is done, then shuts down: it stops accepting, waits up
// to the grace period for requests in flight, and closes what is left. It
// returns nil after a shutdown caused by ctx.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("httpapi: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.ShutdownGrace)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if err != nil {
		s.opt.Log.Warn("http requests still running after the grace period; closing them", zap.Error(err))
		s.srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("httpapi: serve: %w", serr)
	}
	return nil
}

// Close releases the listener of a server whose Run was never called.
func (s *Server) Close() error { return s.srv.Close() }

// guard requires StatusToken, when one is set, as a bearer token.
func (s *Server) guard(h http.Handler) http.Handler {
	if s.opt.StatusToken == "" {
		return h
	}
	want := []byte(s.opt.StatusToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="geowatch"`)
			http.Error(w, "missing or invalid bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) servePush(w http.ResponseWriter, r *http.Request) {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && s.opt.Read != nil {
		s.opt.Read.ServeHTTP(w, r)
		return
	}
	h := s.push.Load()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	(*h).ServeHTTP(w, r)
}

// healthz answers 200 while the process serves at all: liveness, nothing more.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 when every check passes, else 503 naming the first that
// failed; the failure's detail goes to the log, not to the caller.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	for _, c := range s.opt.Ready {
		ctx, cancel := context.WithTimeout(r.Context(), DefaultReadyTimeout)
		err := c.Check(ctx)
		cancel()
		if err != nil {
			if !s.notReady.Swap(true) {
				s.opt.Log.Warn("not ready", zap.String("check", c.Name), zap.Error(err))
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %s\n", c.Name)
			return
		}
	}
	if s.notReady.Swap(false) {
		s.opt.Log.Info("ready again")
	}
	fmt.Fprintln(w, "ok")
}
