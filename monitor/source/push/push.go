// Package push is geowatch's HTTP ingest endpoint: an http.Handler for
// POST /v1/observations that takes a GeoJSON Feature, a FeatureCollection or
// newline-delimited Features, stores them through the engine in one transaction
// and answers, record by record, what was stored and what was rejected.
//
// A 200 or 422 answer means every record it counts as stored is committed; any
// other status means nothing was stored by that request, and the sender should
// retry it. Records are keyed by (source, id), so a retry never duplicates them.
//
// It imports monitor, monitor/source/geojson, zap and golang.org/x/time/rate.
package push

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/geojson"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Path is where the handler is mounted.
const Path = "/v1/observations"

// Defaults for what Options leave out.
const (
	DefaultMaxBodyBytes = 8 << 20
	// DefaultIdle is how long a client's limiter is kept after its last request
	// when its bucket refills sooner.
	DefaultIdle = 5 * time.Minute
	// DefaultMaxClients caps the tracked clients; past it, new clients share
	// one bucket until idle ones are evicted.
	DefaultMaxClients = 10000
	// DefaultMaxInFlight caps the requests reading a body or waiting to store
	// at once; past it a request is answered 503 with Retry-After at once.
	DefaultMaxInFlight = 32
	// DefaultBodyTimeout bounds how long a body may take to arrive, counted
	// from when the handler starts reading it.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultWriteWait bounds how long a request waits for the database's
	// write lock (behind another request, a check or an analyst's write
	// transaction) before it is answered 503 with Retry-After.
	DefaultWriteWait = 5 * time.Second
	// maxEcho caps how much of a record's id a response quotes.
	maxEcho = 200
)

// IngestFunc validates and stores one batch under source and returns what
// happened to it, with every record refused: (*monitor.Engine).IngestRecords.
type IngestFunc func(ctx context.Context, source string, b monitor.Batch, now time.Time) (monitor.IngestResult, []monitor.Reject, error)

// Options configure a Handler.
type Options struct {
	// Ingest stores the records; required.
	Ingest IngestFunc
	// Source is the name records are stored under, such as "push"; required.
	Source string
	// GeoJSON maps the pushed features' properties onto observations.
	GeoJSON geojson.Options
	// Now is the clock for ingestion times and the rate limit; default time.Now.
	Now func() time.Time
	// MaxBodyBytes caps a request body; a larger one is refused with 413.
	// Default DefaultMaxBodyBytes (8 MiB).
	MaxBodyBytes int64
	// Token, when set, is the bearer token every request must carry.
	Token string
	// Rate is the sustained requests per second allowed per client IP (an
	// IPv6 client is its /64); 0 disables the limit. Burst is the bucket's
	// size, default max(1, ceil(Rate)).
	Rate  float64
	Burst int
	// MaxInFlight caps the requests being read or stored at once; default
	// DefaultMaxInFlight. Memory is bounded by MaxInFlight × what arrived
	// (at most MaxBodyBytes each): bodies are read as they arrive, never
	// preallocated from Content-Length.
	MaxInFlight int
	// BodyTimeout bounds the arrival of a body; a slower sender gets 408.
	// Default DefaultBodyTimeout.
	BodyTimeout time.Duration
	// WriteWait bounds the wait for the database's writer; past it the
	// request is answered 503 with Retry-After and nothing is stored.
	// Default DefaultWriteWait.
	WriteWait time.Duration
	// Log receives failures and rejected requests; default a no-op logger.
	Log *zap.Logger
}

// Handler serves POST /v1/observations. It is safe for concurrent use.
type Handler struct {
	opt      Options
	token    []byte
	limiter  *limiters
	inFlight chan struct{} // a slot per request being read or stored
	failures failureStreak
}

// New returns a handler configured by opt.
func New(opt Options) (*Handler, error) {
	if opt.Ingest == nil {
		return nil, errors.New("push: no ingest function")
	}
	if opt.Source == "" {
		return nil, errors.New("push: no source name")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = DefaultMaxInFlight
	}
	if opt.BodyTimeout <= 0 {
		opt.BodyTimeout = DefaultBodyTimeout
	}
	if opt.WriteWait <= 0 {
		opt.WriteWait = DefaultWriteWait
	}
	if opt.Rate < 0 || opt.Burst < 0 {
		return nil, fmt.Errorf("push: negative rate %v or burst %d", opt.Rate, opt.Burst)
	}
	h := &Handler{opt: opt, inFlight: make(chan struct{}, opt.MaxInFlight)}
	if opt.Token != "" {
		h.token = []byte(opt.Token)
	}
	if opt.Rate > 0 {
		burst := opt.Burst
		if burst == 0 {
			burst = max(1, int(opt.Rate+0.999999))
		}
		h.limiter = newLimiters(rate.Limit(opt.Rate), burst, DefaultIdle, DefaultMaxClients)
	}
	return h, nil
}

// Response is the body of a 200 or 422 answer.
type Response struct {
	Stored     int        `json:"stored"`     // added + updated + duplicates: all committed
	Added      int        `json:"added"`      // new records
	Updated    int        `json:"updated"`    // records already stored under the same id, now replaced
	Duplicates int        `json:"duplicates"` // records already stored exactly so
	Rejected   []Rejected `json:"rejected"`   // never null
}

// Rejected is one record that was not stored, and why.
type Rejected struct {
	Index  int    `json:"index"`  // 0-based position of the record in the request
	Record string `json:"record"` // "feature 3 (us7000abcd)", "line 4"
	Field  string `json:"field"`  // "geometry.coordinates", "properties.time"
	Reason string `json:"reason"` // "latitude out of range"
}

// errorBody is the body of every other answer.
type errorBody struct {
	Error string `json:"error"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := h.opt.Now()
	client := clientKey(r.RemoteAddr)
	// The limit comes first, so that it also bounds guesses at the token.
	if h.limiter != nil {
		if ok, wait := h.limiter.allow(client, now); !ok {
			secs := max(1, int((wait+time.Second-1)/time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeJSON(w, http.StatusTooManyRequests, errorBody{"rate limit exceeded, retry after " + strconv.Itoa(secs) + "s"})
			return
		}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{"method " + r.Method + " not allowed; use POST"})
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="geowatch"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{"missing or invalid bearer token"})
		return
	}
	// The slot is taken before the body is read, so neither slow senders
	// nor requests queued behind the writer can pile up without bound.
	select {
	case h.inFlight <- struct{}{}:
		defer func() { <-h.inFlight }()
	default:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"too many requests in progress; nothing was stored, retry later"})
		return
	}
	// The body's deadline; ServeHTTP of a test recorder cannot set one.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(h.opt.BodyTimeout))
	body, err := readBody(w, r, h.opt.MaxBodyBytes)
	if err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{fmt.Sprintf("body larger than %d bytes", mbe.Limit)})
			return
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusRequestTimeout, errorBody{fmt.Sprintf("body not received within %s", h.opt.BodyTimeout)})
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody{"unreadable body"})
		return
	}
	_ = rc.SetReadDeadline(time.Time{})
	b, err := geojson.Parse(body, h.opt.GeoJSON)
	body = nil //nolint:ineffassign // let the body go before the write, which may wait
	if err != nil {
		// The parser's detail can quote Go types; the sender gets the gist.
		h.opt.Log.Debug("push body refused", zap.String("client", client), zap.Error(err))
		writeJSON(w, http.StatusBadRequest, errorBody{"body is " + geojson.ErrNotGeoJSON.Error()})
		return
	}
	b.Origin = "push " + client
	ctx, cancel := context.WithTimeout(r.Context(), h.opt.WriteWait)
	res, rejects, err := h.opt.Ingest(ctx, h.opt.Source, b, now)
	cancel()
	if err != nil {
		// The detail (paths, driver errors) is for the operator, not the
		// sender; a streak of the same failure is logged once, with its count.
		if h.failures.fail(err) {
			h.opt.Log.Error("push ingest failed", zap.String("source", h.opt.Source), zap.String("client", client),
				zap.Int("count", len(b.Observations)+len(b.Rejects)), zap.Error(err))
		}
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"store unavailable; nothing was stored, retry later"})
		return
	}
	if n, last := h.failures.ok(); n > 1 {
		h.opt.Log.Warn("push ingest recovered", zap.String("source", h.opt.Source), zap.Int("failures", n), zap.String("error", last))
	}
	status, resp := reply(res, rejects)
	writeJSON(w, status, resp)
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut with
// how much was left out.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…(%d more bytes)", len(s)-cut)
}

// failureStreak counts consecutive failures, so that a run of them (a full
// disk fails every push) is logged once, with a count when it ends.
type failureStreak struct {
	mu   sync.Mutex
	n    int
	last string
}

// fail counts err and reports whether it is worth a log line: the first of a
// streak only. One outage fails in several ways as it goes (a database
// server going down cuts connections, then refuses them); the recovery line
// gives the count and the last error.
func (f *failureStreak) fail(err error) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.last = err.Error()
	return f.n == 1
}

func (f *failureStreak) ok() (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, last := f.n, f.last
	f.n, f.last = 0, ""
	return n, last
}

// authorized compares the bearer token in constant time, so the time taken
// tells nothing about how much of a guess was right.
func (h *Handler) authorized(r *http.Request) bool {
	if h.token == nil {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), h.token) == 1
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	// The buffer grows with what arrived, not with what Content-Length claims.
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	return buf.Bytes(), err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away; nothing to do
}

// reply is what the sender is told of a stored batch: every record refused
// anywhere on the way (by the parser or by the engine's checks) with its
// position, so that stored + len(rejected) is the number of records sent.
func reply(res monitor.IngestResult, rejects []monitor.Reject) (int, Response) {
	resp := Response{
		Stored: res.Added + res.Updated + res.Unchanged, Added: res.Added, Updated: res.Updated,
		Duplicates: res.Unchanged, Rejected: make([]Rejected, 0, len(rejects)),
	}
	for _, r := range rejects {
		resp.Rejected = append(resp.Rejected, Rejected{Index: int(r.Pos.Index), Record: truncate(r.Record, maxEcho),
			Field: r.Field, Reason: truncate(reason(r.Err), maxEcho)})
	}
	if len(resp.Rejected) > 0 {
		return http.StatusUnprocessableEntity, resp
	}
	return http.StatusOK, resp
}

func reason(err error) string {
	if err == nil {
		return "rejected"
	}
	return err.Error()
}

// clientKey is the rate-limit key of a remote address: the IP, or the /64 of
// an IPv6 address, since one host commonly holds a whole /64. Forwarded headers
// are not trusted: behind a reverse proxy all clients share the proxy's bucket.
func clientKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// limiters holds one token bucket per client and evicts idle ones, so memory
// stays bounded by the clients seen within the idle period (and maxClients).
type limiters struct {
	limit      rate.Limit
	burst      int
	idle       time.Duration
	maxClients int

	mu        sync.Mutex
	clients   map[string]*client
	overflow  *rate.Limiter // shared by new clients while the table is full
	lastSweep time.Time
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiters(limit rate.Limit, burst int, idle time.Duration, maxClients int) *limiters {
	// A bucket idle for burst/limit is full again, as a new one would be, so
	// forgetting it then loses nothing.
	idle = max(idle, time.Duration(float64(burst)/float64(limit)*float64(time.Second)))
	return &limiters{
		limit: limit, burst: burst, idle: idle, maxClients: maxClients,
		clients:  map[string]*client{},
		overflow: rate.NewLimiter(limit, burst),
	}
}

// allow takes a token from key's bucket at now, or reports how long until one
// is there.
func (l *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A full table is swept at most once a second, so a flood of new
	// addresses costs one pass a second, not one per request.
	if since := now.Sub(l.lastSweep); since >= l.idle || (len(l.clients) >= l.maxClients && since >= time.Second) {
		l.sweep(now)
	}
	c, ok := l.clients[key]
	var lim *rate.Limiter
	switch {
	case ok:
		c.seen = now
		lim = c.lim
	case len(l.clients) < l.maxClients:
		c = &client{lim: rate.NewLimiter(l.limit, l.burst), seen: now}
		l.clients[key] = c
		lim = c.lim
	default:
		lim = l.overflow
	}
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *limiters) sweep(now time.Time) {
	l.lastSweep = now
	for k, c := range l.clients {
		if now.Sub(c.seen) >= l.idle {
			delete(l.clients, k)
		}
	}
}
