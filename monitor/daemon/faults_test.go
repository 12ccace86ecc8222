package daemon_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/monitor/source/csv"
	"github.com/geowatch/geowatch/monitor/source/geojson"
	"github.com/geowatch/geowatch/monitor/source/httpfeed"
	"github.com/geowatch/geowatch/monitor/source/rss"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Timings of the fault runs: cron's shortest period is one second, so each
// case runs a few ticks; the cases run in parallel.
const (
	faultRun     = 4500 * time.Millisecond
	faultBackoff = 400 * time.Millisecond // base: 0.4 s, 0.8 s, 1.6 s… so the third failure skips a tick
	faultMax     = 3 * time.Second
	feedTimeout  = 500 * time.Millisecond
	feedMaxBytes = 1 << 20
)

// hits records when a server was asked.
type hits struct {
	mu sync.Mutex
	at []time.Time
}

func (h *hits) wrap(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Referer") == "" { // a redirect the client followed is not a new try
			h.mu.Lock()
			h.at = append(h.at, time.Now())
			h.mu.Unlock()
		}
		next(w, r)
	}
}

func (h *hits) times() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.at...)
}

// feature is one GeoJSON point feature near Vladivostok.
func feature(id, title string, i int) string {
	return fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"Point","coordinates":[131.9,%v]},
		"properties":{"time":"2024-05-01T10:%02d:00Z","type":"report","title":%q}}`, id, 43.1+0.001*float64(i), i%60, title)
}

// rawFeature is a feature whose id and title go into the JSON as raw bytes,
// invalid UTF-8 included.
func rawFeature(id, title string) string {
	return `{"type":"Feature","id":"` + id + `","geometry":{"type":"Point","coordinates":[131.9,43.1]},
		"properties":{"time":"2024-05-01T10:00:00Z","title":"` + title + `"}}`
}

func collection(fs ...string) string {
	return `{"type":"FeatureCollection","features":[` + strings.Join(fs, ",") + `]}`
}

var (
	healthyBody = collection(feature("ok-1", "one", 1), feature("ok-2", "two", 2), feature("ok-3", "three", 3))
	csvHead     = "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type,horizontalError,depthError,magError,magNst,status,locationSource,magSource\n"
	csvRow      = "2020-04-27T19:32:29.850Z,33.857,-117.5158333,0.59,1.63,ml,38,77,0.07094,0.3,ci,ci%d,2020-04-27T19:36:33.277Z,\"%s\",quarry blast,0.39,31.61,0.109,27,automatic,ci,ci\n"
	rssBody     = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:georss="http://www.georss.org/georss"><channel><title>t</title>
<item><title>Roadblock</title><guid>r-1</guid><pubDate>Mon, 11 Sep 2023 06:30:00 +1000</pubDate><georss:point>43.11 131.88</georss:point></item>
<item><title>Crowd</title><guid>r-2</guid><pubDate>Mon, 11 Sep 2023 06:40:00 +1000</pubDate><georss:point>43.12 131.89</georss:point></item>
</channel></rss>`
)

// gzipBomb is 16 MiB of spaces gzipped to about 16 KiB: 16 times the cap.
var gzipBomb = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	chunk := bytes.Repeat([]byte(" "), 1<<20)
	for range 16 {
		zw.Write(chunk)
	}
	zw.Close()
	return b.Bytes()
})

type feedFault struct {
	name    string
	format  string // geojson (default), csv or rss
	handler func(*feedFault) http.HandlerFunc
	// wantErr: the run fails, and the logged error holds one of these.
	wantErr []string
	// retryAfter: the server's Retry-After, which the backoff must honour.
	retryAfter time.Duration
	// wantStored: rows of the bad source in the store at the end (-1: don't check).
	wantStored int
	// wantFirst and wantRepeat: what the first run and each later one count in
	// the sources table, if set.
	wantFirst  *monitor.IngestResult
	wantRepeat monitor.IngestResult
	// streaks: failure streaks expected (default 1), each logged once at error
	// level and ended by "check recovered".
	streaks int
	// written counts bytes an endless server sent.
	written atomic.Int64
}

func serve(body, contentType string) func(*feedFault) http.HandlerFunc {
	return func(*feedFault) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Write([]byte(body))
		}
	}
}

// TestFeedFaults runs the daemon on a real store with a healthy source and one
// whose server misbehaves. In every case the daemon stays up, the healthy source
// is checked on every tick, a failing check is logged once at error level with
// its cause and then backs off (longer each time, or as long as Retry-After
// says), and the sources table reconciles: seen = added + updated + unchanged +
// rejected.
func TestFeedFaults(t *testing.T) {
	full := healthyBody
	gzipBomb() // built before the clock starts
	cases := []*feedFault{
		{name: "500", handler: func(*feedFault) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }
		}, wantErr: []string{"status 500 Internal Server Error"}},
		{name: "flapping", streaks: 2, handler: func(*feedFault) http.HandlerFunc {
			var n atomic.Int32
			return func(w http.ResponseWriter, r *http.Request) {
				if k := n.Add(1); k == 2 || k >= 4 { // fail, ok, fail…
					http.Error(w, "boom", http.StatusInternalServerError)
					return
				}
				serve(healthyBody, "application/geo+json")(nil)(w, r)
			}
		}, wantErr: []string{"status 500 Internal Server Error"}},
		{name: "503 retry-after", retryAfter: 2 * time.Second, handler: func(*feedFault) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "2")
				http.Error(w, "busy", http.StatusServiceUnavailable)
			}
		}, wantErr: []string{"status 503 Service Unavailable (retry after 2)"}},
		{name: "connection reset", handler: func(*feedFault) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				c, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0) // close with RST
				}
				c.Close()
			}
		}, wantErr: []string{"connection reset by peer", "EOF"}},
		{name: "timeout", handler: func(*feedFault) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}
		}, wantErr: timeoutErr("Client.Timeout exceeded")},
		{name: "trickle", handler: func(*feedFault) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/geo+json")
				rc := http.NewResponseController(w)
				for i := 0; i < len(full); i++ {
					if _, err := w.Write([]byte{full[i]}); err != nil {
						return
					}
					rc.Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(200 * time.Millisecond): // a byte a second, sped up
					}
				}
			}
		}, wantErr: timeoutErr("Client.Timeout or context cancellation while reading body")},
		{name: "truncated json", handler: serve(full[:len(full)/2], "application/geo+json"),
			wantErr: []string{geojson.ErrNotGeoJSON.Error()}},
		{name: "truncated csv", format: "csv", wantStored: 1,
			handler:   serve(csvHead+fmt.Sprintf(csvRow, 1, "a")+fmt.Sprintf(csvRow, 2, "b")[:40], "text/csv"),
			wantFirst: &monitor.IngestResult{Seen: 2, Added: 1, Rejected: 1}, wantRepeat: monitor.IngestResult{Seen: 2, Unchanged: 1, Rejected: 1}},
		{name: "truncated xml", format: "rss", handler: serve(rssBody[:len(rssBody)-40], "application/rss+xml"),
			wantErr: []string{rss.ErrNotFeed.Error(), "unexpected EOF"}},
		{name: "html with 200", handler: serve("<!doctype html><html><body><h1>Oops</h1></body></html>", "text/html"),
			wantErr: []string{geojson.ErrNotGeoJSON.Error()}},
		{name: "redirect loop", handler: func(*feedFault) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) }
		}, wantErr: []string{"stopped after 10 redirects"}},
		{name: "gzip bomb", handler: func(*feedFault) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/geo+json")
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(gzipBomb())
			}
		}, wantErr: []string{fmt.Sprintf("%v: more than %d bytes", httpfeed.ErrTooLarge, feedMaxBytes)}},
		{name: "endless body", handler: func(f *feedFault) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/geo+json")
				chunk := bytes.Repeat([]byte(" "), 32<<10)
				for r.Context().Err() == nil {
					n, err := w.Write(chunk)
					f.written.Add(int64(n))
					if err != nil {
						return
					}
				}
			}
		}, wantErr: []string{fmt.Sprintf("%v: more than %d bytes", httpfeed.ErrTooLarge, feedMaxBytes)}},
		{name: "content-length over cap", handler: func(*feedFault) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(2<<30)) // 2 GiB announced, never sent
				w.Write([]byte("{"))
			}
		}, wantErr: []string{fmt.Sprintf("%v: Content-Length %d > %d", httpfeed.ErrTooLarge, 2<<30, feedMaxBytes)}},
		{name: "invalid utf-8 geojson", wantStored: 2,
			// encoding/json turns invalid UTF-8 into U+FFFD: stored, replaced.
			wantFirst: &monitor.IngestResult{Seen: 2, Added: 2}, wantRepeat: monitor.IngestResult{Seen: 2, Unchanged: 2},
			handler: serve(collection(rawFeature("u-1", "bad \xff\xfe title"), rawFeature("u-\xff", "x")), "application/geo+json")},
		{name: "invalid utf-8 csv", format: "csv", wantStored: 1,
			wantFirst: &monitor.IngestResult{Seen: 2, Added: 1, Rejected: 1}, wantRepeat: monitor.IngestResult{Seen: 2, Unchanged: 1, Rejected: 1},
			handler: serve(csvHead+fmt.Sprintf(csvRow, 1, "fine")+fmt.Sprintf(csvRow, 2, "bad \xff place"), "text/csv")},
		{name: "duplicate ids in one batch", wantStored: 2,
			// dup twice with different titles, same twice identical. The engine
			// keeps the last record of each id in a batch and counts the earlier
			// ones unchanged, so later runs rewrite nothing.
			wantFirst:  &monitor.IngestResult{Seen: 4, Added: 2, Unchanged: 2},
			wantRepeat: monitor.IngestResult{Seen: 4, Unchanged: 4},
			handler: serve(collection(feature("dup", "first", 1), feature("dup", "second", 1),
				feature("same", "s", 2), feature("same", "s", 2)), "application/geo+json")},
	}
	runFeedFaults(t, cases)
}

// timeoutErr is what a client timeout says: net/http adds its own words when
// its timer's goroutine marks the timeout before the transport returns, which
// in a synctest bubble it may not. Either way it is the client's 500 ms that
// fired: the checks' own 5 s timeout is longer than the whole run.
func timeoutErr(words string) []string {
	return []string{words, "context deadline exceeded"}
}

// sourceName turns a case name into a source name.
func sourceName(tc *feedFault) string {
	return "bad-" + strings.Map(func(r rune) rune {
		if r == ' ' || r == '/' {
			return '-'
		}
		return r
	}, tc.name)
}

// runFeedFaults runs one daemon with the healthy source and every case's
// misbehaving one side by side, then checks each case in a subtest.
//
// The daemon, its store and the servers run in a synctest bubble over an
// in-memory network: the clock moves only when every goroutine waits, so a
// timeout, a backoff or a trickle is a fault by construction and a loaded
// machine cannot turn a prompt answer into a late one.
func runFeedFaults(t *testing.T, cases []*feedFault) {
	var (
		logs    *observer.ObservedLogs
		elapsed time.Duration
		status  = map[string]store.SourceStatus{}
		obs     []monitor.Observation
		badHits = make([]*hits, len(cases))
	)
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock starts in 2000; the feeds' records are from 2020–2024.
		time.Sleep(time.Until(time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)))
		ctx := t.Context()
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "geowatch.gpkg"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		core, observed := observer.New(zapcore.DebugLevel)
		logs = observed
		log := zap.New(core)
		engine, err := monitor.NewEngine(ctx, db, log)
		if err != nil {
			t.Fatal(err)
		}

		var pn pipeNet
		tr := &http.Transport{DialContext: pn.dial}
		defer tr.CloseIdleConnections()
		var goodHits hits
		goodURL := pn.serve(t, goodHits.wrap(serve(healthyBody, "application/geo+json")(nil)))
		checks := []daemon.Check{
			{Name: "good", Type: "geojson", Schedule: "@every 1s", Timeout: 5 * time.Second,
				Source: geojson.New(goodURL+"/feed.geojson", httpfeed.New(httpfeed.Options{Timeout: 5 * time.Second, Transport: tr}), geojson.Options{})},
		}
		for i, tc := range cases {
			badHits[i] = &hits{}
			badURL := pn.serve(t, badHits[i].wrap(tc.handler(tc)))
			fetch := httpfeed.New(httpfeed.Options{Timeout: feedTimeout, MaxBytes: feedMaxBytes, Transport: tr})
			var src monitor.Source
			switch tc.format {
			case "csv":
				src = csv.New(badURL+"/feed.csv", fetch, csv.Options{Preset: "usgs-csv"})
			case "rss":
				src = rss.New(badURL+"/feed.rss", fetch, nil, rss.Options{})
			default:
				src = geojson.New(badURL+"/feed.geojson", fetch, geojson.Options{})
			}
			checks = append(checks, daemon.Check{Name: sourceName(tc), Type: tc.format, Schedule: "@every 1s", Timeout: 5 * time.Second, Source: src})
		}
		d := daemon.New(engine, log, daemon.Options{BackoffBase: faultBackoff, BackoffMax: faultMax, Grace: 5 * time.Second})
		if _, err := d.Apply(checks, nil); err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithTimeout(ctx, faultRun)
		defer cancel()
		start := time.Now()
		if err := d.Run(runCtx, nil); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		elapsed = time.Since(start)

		ss, err := db.Sources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			status[s.Name] = s
		}
		obs, err = db.Observations(ctx, monitor.Query{Area: world{}, Since: time.Unix(0, 0), Until: time.Now(), Detail: true})
		if err != nil {
			t.Fatal(err)
		}
		pn.close()
	})
	if t.Failed() {
		return
	}

	for name, s := range status {
		// Counts reconcile for every source.
		tot := s.Total
		if tot.Seen != tot.Added+tot.Updated+tot.Unchanged+tot.Rejected {
			t.Errorf("source %s totals %+v: seen != added+updated+unchanged+rejected", name, tot)
		}
	}

	// The healthy source kept its schedule: the first pass and one run a tick.
	goodDone := logs.FilterMessage("check done").FilterField(zap.String("source", "good")).Len()
	if min := int(elapsed/time.Second) - 1; goodDone < min {
		t.Errorf("healthy source: %d runs in %v, want at least %d", goodDone, elapsed, min)
	}
	// Routine runs are quiet: only the first, which added the three rows, is
	// at info; the rest, with nothing new, are at debug.
	if n := logs.FilterMessage("check done").FilterField(zap.String("source", "good")).FilterLevelExact(zapcore.InfoLevel).Len(); n != 1 {
		t.Errorf("healthy source: %d check done lines at info in %d runs, want 1", n, goodDone)
	}
	if n := logs.FilterMessage("check failed").FilterField(zap.String("source", "good")).Len(); n > 0 {
		t.Errorf("healthy source failed %d times", n)
	}
	if tot := status["good"].Total; tot.Added != 3 || tot.Seen != 3*goodDone {
		t.Errorf("good totals %+v after %d runs; want 3 added, %d seen", tot, goodDone, 3*goodDone)
	}

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := sourceName(tc)
			failed := logs.FilterMessage("check failed").FilterField(zap.String("source", name)).AllUntimed()
			if tc.wantErr == nil {
				if len(failed) > 0 {
					t.Errorf("source failed: %v", failed[0].ContextMap()["error"])
				}
			} else {
				checkFailures(t, tc, failed, badHits[i].times())
			}
			if tc.name == "endless body" {
				// The client stopped at the cap; what the server got out beyond it sits
				// in loopback socket buffers, megabytes at most, never the whole stream.
				if w := tc.written.Load(); w > 32<<20 {
					t.Errorf("server wrote %d bytes before the client hung up", w)
				}
			}
			if want := max(tc.streaks, 1) - 1; tc.wantErr != nil {
				if got := logs.FilterMessage("check recovered").FilterField(zap.String("source", name)).Len(); got != want {
					t.Errorf("%d check recovered lines, want %d", got, want)
				}
			}
			if tc.retryAfter > 0 && logs.FilterMessage("check backing off").FilterField(zap.String("source", name)).Len() == 0 {
				t.Error("no tick skipped while the server asked to wait")
			}
			s := status[name]
			tot := s.Total
			if tc.wantErr != nil && tc.streaks <= 1 && (tot.Seen != 0 || s.ConsecutiveFailures != len(failed)) {
				t.Errorf("totals %+v, %d consecutive failures; want nothing seen, %d failures", tot, s.ConsecutiveFailures, len(failed))
			}
			if tc.wantFirst != nil {
				runs := logs.FilterMessage("check done").FilterField(zap.String("source", name)).Len()
				want := *tc.wantFirst
				for range runs - 1 {
					want.Add(tc.wantRepeat)
				}
				if tot != want {
					t.Errorf("totals after %d runs = %+v, want %+v", runs, tot, want)
				}
			}
			if tc.wantStored > 0 {
				n := 0
				for _, o := range obs {
					if o.Source != name {
						continue
					}
					n++
					for _, s := range []string{o.ID, o.Title, o.Place} {
						if !utf8.ValidString(s) {
							t.Errorf("stored invalid UTF-8 %q", s)
						}
					}
				}
				if n != tc.wantStored {
					t.Errorf("%d rows stored, want %d", n, tc.wantStored)
				}
			}
		})
	}
}

// checkFailures checks a failing source's log and timing: one error line per
// streak with the cause, then debug lines with growing backoffs, each obeyed.
func checkFailures(t *testing.T, tc *feedFault, failed []observer.LoggedEntry, at []time.Time) {
	t.Helper()
	if len(failed) < 2 {
		t.Fatalf("bad source failed %d times, want at least 2 (backoff too long?)", len(failed))
	}
	var prev time.Duration
	streak, errLines := 0, 0
	for i, e := range failed {
		m := e.ContextMap()
		got, _ := m["failures"].(int64)
		if got == 1 {
			streak, prev = 0, 0
		}
		streak++
		if got != int64(streak) {
			t.Errorf("failure %d: failures field %v, want %d", i+1, m["failures"], streak)
		}
		wantLevel := zapcore.DebugLevel
		if streak == 1 {
			wantLevel = zapcore.ErrorLevel
			errLines++
		}
		if e.Level != wantLevel {
			t.Errorf("failure %d logged at %v, want %v", i+1, e.Level, wantLevel)
		}
		errText, _ := m["error"].(string)
		if !containsAny(errText, tc.wantErr) {
			t.Errorf("failure %d error %q, want one of %q", i+1, errText, tc.wantErr)
		}
		if i == 0 && !strings.Contains(errText, "127.0.0.1") {
			t.Errorf("error %q does not name the feed", errText)
		}
		backoff, _ := m["backoff"].(time.Duration)
		switch {
		case tc.retryAfter > 0 && backoff != tc.retryAfter:
			t.Errorf("failure %d backoff %v, want Retry-After %v", i+1, backoff, tc.retryAfter)
		case tc.retryAfter == 0 && backoff <= prev:
			t.Errorf("failure %d backoff %v, not longer than the previous %v", i+1, backoff, prev)
		}
		prev = backoff
		// The next request came no earlier than the backoff allowed. The check
		// stamps its failure at its start, a moment after the request arrived.
		if tc.streaks <= 1 && i+1 < len(at) {
			if gap := at[i+1].Sub(at[i]); gap < backoff-100*time.Millisecond {
				t.Errorf("request %d came %v after the previous, within the %v backoff", i+2, gap, backoff)
			}
		}
	}
	if want := max(tc.streaks, 1); errLines != want {
		t.Errorf("%d failure streaks logged at error level, want %d", errLines, want)
	}
	if len(at) < len(failed) {
		t.Errorf("%d failures but %d requests", len(failed), len(at))
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// world is a query shape covering the whole globe.
type world struct{}

func (world) Bounds() []orb.Bound {
	return []orb.Bound{{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}}
}
func (world) Contains(orb.Point) bool { return true }

// pipeNet is an in-memory network of HTTP servers at made-up loopback
// addresses. Its connections are net.Pipes, so a goroutine waiting on one is
// durably blocked and the synctest clock moves on.
type pipeNet struct {
	mu        sync.Mutex
	listeners map[string]*pipeListener
	servers   []*http.Server
}

// serve starts an HTTP server for h and returns its URL.
func (pn *pipeNet) serve(t *testing.T, h http.Handler) string {
	pn.mu.Lock()
	defer pn.mu.Unlock()
	if pn.listeners == nil {
		pn.listeners = map[string]*pipeListener{}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", 20000+len(pn.listeners))
	l := &pipeListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
	pn.listeners[addr] = l
	srv := &http.Server{Handler: h}
	pn.servers = append(pn.servers, srv)
	go srv.Serve(l)
	return "http://" + addr
}

func (pn *pipeNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	pn.mu.Lock()
	l := pn.listeners[addr]
	pn.mu.Unlock()
	if l == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%s: connection refused", addr)}
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%s: connection refused", addr)}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close stops every server and its connections.
func (pn *pipeNet) close() {
	pn.mu.Lock()
	defer pn.mu.Unlock()
	for _, s := range pn.servers {
		s.Close()
	}
}

type pipeListener struct {
	addr  string
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.addr) }

type pipeAddr string

func (pipeAddr) Network() string  { return "pipe" }
func (a pipeAddr) String() string { return string(a) }
