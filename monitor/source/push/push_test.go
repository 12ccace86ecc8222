package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/geojson"
	"github.com/geowatch/geowatch/monitor/source/push"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func openTestDB(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "geowatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newEngine returns an engine on a fresh database, and the database.
func newEngine(t testing.TB) (*monitor.Engine, *sqlite.DB) {
	t.Helper()
	db := openTestDB(t)
	e, err := monitor.NewEngine(context.Background(), db, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return e, db
}

func newHandler(t testing.TB, e *monitor.Engine, opt push.Options) *push.Handler {
	t.Helper()
	opt.Ingest = e.IngestRecords
	opt.Source = "push"
	if opt.Now == nil {
		opt.Now = func() time.Time { return t0 }
	}
	h, err := push.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func feature(id string, lon, lat float64, tm string) string {
	return `{"type":"Feature","id":"` + id + `","geometry":{"type":"Point","coordinates":[` +
		ftoa(lon) + `,` + ftoa(lat) + `]},"properties":{"time":"` + tm + `","type":"field_report"}}`
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func collection(fs ...string) string {
	return `{"type":"FeatureCollection","features":[` + strings.Join(fs, ",") + `]}`
}

var (
	okA  = feature("a", 131.9, 43.1, "2024-05-01T10:00:00Z")
	okB  = feature("b", 131.8, 43.2, "2024-05-01T10:05:00Z")
	badC = feature("c", 131.8, 91, "2024-05-01T10:05:00Z")
)

type exchange struct {
	status int
	header http.Header
	body   string
}

func post(t *testing.T, url, auth, contentType, body string) exchange {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+push.Path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", contentType)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) exchange {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return exchange{resp.StatusCode, resp.Header, string(b)}
}

func count(t *testing.T, db *sqlite.DB) int64 {
	t.Helper()
	n, err := db.CountObservations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestHandler(t *testing.T) {
	const (
		allStored  = `{"stored":2,"added":2,"updated":0,"duplicates":0,"rejected":[]}` + "\n"
		notGeoJSON = `{"error":"body is not a GeoJSON Feature, FeatureCollection or newline-delimited Features"}` + "\n"
	)
	tests := []struct {
		name        string
		contentType string // deliberately wrong in places: the body is sniffed
		body        string
		status      int
		want        string
		stored      int64
	}{
		{"collection", "application/geo+json", collection(okA, okB), 200, allStored, 2},
		{"feature", "application/json", okA, 200,
			`{"stored":1,"added":1,"updated":0,"duplicates":0,"rejected":[]}` + "\n", 1},
		{"ndjson", "application/x-ndjson", okA + "\n" + okB + "\n", 200, allStored, 2},
		{"ndjson labelled json", "application/json", okA + "\n" + okB, 200, allStored, 2},
		{"collection with a bad feature", "application/geo+json", collection(okA, badC, okB), 422,
			`{"stored":2,"added":2,"updated":0,"duplicates":0,"rejected":[{"index":1,"record":"feature 1 (c)","field":"geometry.coordinates","reason":"position [131.8, 91]: latitude outside [-90, 90]"}]}` + "\n", 2},
		{"ndjson with a bad line", "application/x-ndjson",
			okA + "\n\n" + feature("b", 131.8, 43.2, "yesterday") + "\n" + okB[:20] + "\n",
			422, `{"stored":1,"added":1,"updated":0,"duplicates":0,"rejected":[` +
				`{"index":1,"record":"line 3 (b)","field":"properties.time","reason":"unparseable time: \"yesterday\" is not RFC 3339 or ISO 8601"},` +
				`{"index":2,"record":"line 4","field":"feature","reason":"invalid value: not a JSON object: unexpected end of JSON input"}]}` + "\n", 1},
		// Refused by the engine's own check (max_future), after parsing: still
		// listed, with its position, and not counted as stored.
		{"a record dated past max_future", "application/geo+json", collection(okA, feature("late", 131.9, 43.1, "2030-01-01T00:00:00Z"), okB), 422,
			`{"stored":2,"added":2,"updated":0,"duplicates":0,"rejected":[{"index":1,"record":"feature 1 (late)","field":"time","reason":"too far in the future: 2030-01-01T00:00:00Z is more than 24h0m0s after ingest"}]}` + "\n", 2},
		{"all rejected", "application/geo+json", collection(badC), 422,
			`{"stored":0,"added":0,"updated":0,"duplicates":0,"rejected":[{"index":0,"record":"feature 0 (c)","field":"geometry.coordinates","reason":"position [131.8, 91]: latitude outside [-90, 90]"}]}` + "\n", 0},
		{"empty collection", "application/geo+json", collection(), 200,
			`{"stored":0,"added":0,"updated":0,"duplicates":0,"rejected":[]}` + "\n", 0},
		{"not json", "application/json", "hello, world", 400, notGeoJSON, 0},
		{"empty", "application/json", "", 400, notGeoJSON, 0},
		{"json but not geojson", "application/json", `[1,2]`, 400, notGeoJSON, 0},
		{"geometry alone", "application/geo+json", `{"type":"Point","coordinates":[1,2]}`, 400, notGeoJSON, 0},
		{"form", "application/x-www-form-urlencoded", "a=1&b=2", 400, notGeoJSON, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, db := newEngine(t)
			srv := httptest.NewServer(newHandler(t, e, push.Options{}))
			defer srv.Close()
			got := post(t, srv.URL, "", tc.contentType, tc.body)
			if got.status != tc.status || got.body != tc.want {
				t.Errorf("POST %.40q = %d %s, want %d %s", tc.body, got.status, got.body, tc.status, tc.want)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if n := count(t, db); n != tc.stored {
				t.Errorf("%d observations stored, want %d", n, tc.stored)
			}
			checkAccounted(t, tc.body, got)
		})
	}
}

// checkAccounted asserts the push contract on a stored batch's reply: every
// record sent is stored or rejected, once, by its index.
func checkAccounted(t *testing.T, body string, got exchange) {
	t.Helper()
	if got.status != http.StatusOK && got.status != http.StatusUnprocessableEntity {
		return
	}
	var resp push.Response
	if err := json.Unmarshal([]byte(got.body), &resp); err != nil {
		t.Fatal(err)
	}
	b, err := geojson.Parse([]byte(body), geojson.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sent := len(b.Observations) + len(b.Rejects)
	if resp.Stored+len(resp.Rejected) != sent {
		t.Errorf("reply accounts for %d stored + %d rejected of %d records sent", resp.Stored, len(resp.Rejected), sent)
	}
	seen := map[int]bool{}
	for _, r := range resp.Rejected {
		if r.Index < 0 || r.Index >= sent || seen[r.Index] {
			t.Errorf("rejected index %d repeated or outside the request: %+v", r.Index, resp.Rejected)
		}
		seen[r.Index] = true
	}
}

func TestHandlerDuplicates(t *testing.T) {
	e, db := newEngine(t)
	srv := httptest.NewServer(newHandler(t, e, push.Options{}))
	defer srv.Close()
	body := collection(okA, okB)
	steps := []struct {
		body, want string
	}{
		{body, `{"stored":2,"added":2,"updated":0,"duplicates":0,"rejected":[]}` + "\n"},
		{body, `{"stored":2,"added":0,"updated":0,"duplicates":2,"rejected":[]}` + "\n"},
		{collection(okA, feature("b", 131.8, 43.25, "2024-05-01T10:05:00Z")),
			`{"stored":2,"added":0,"updated":1,"duplicates":1,"rejected":[]}` + "\n"},
	}
	for i, s := range steps {
		got := post(t, srv.URL, "", "application/geo+json", s.body)
		if got.status != 200 || got.body != s.want {
			t.Errorf("post %d = %d %s, want 200 %s", i, got.status, got.body, s.want)
		}
	}
	if n := count(t, db); n != 2 {
		t.Errorf("%d observations stored, want 2", n)
	}
}

func TestHandlerToken(t *testing.T) {
	e, db := newEngine(t)
	srv := httptest.NewServer(newHandler(t, e, push.Options{Token: "s3cret-token"}))
	defer srv.Close()
	const unauthorized = `{"error":"missing or invalid bearer token"}` + "\n"
	for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret-toke", "Bearer s3cret-token2", "Basic czNjcmV0LXRva2Vu", "s3cret-token"} {
		got := post(t, srv.URL, auth, "application/geo+json", collection(okA))
		if got.status != 401 || got.body != unauthorized {
			t.Errorf("Authorization %q: %d %s, want 401 %s", auth, got.status, got.body, unauthorized)
		}
		if h := got.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
			t.Errorf("Authorization %q: WWW-Authenticate = %q, want Bearer", auth, h)
		}
	}
	if n := count(t, db); n != 0 {
		t.Fatalf("%d observations stored without the token, want 0", n)
	}
	got := post(t, srv.URL, "Bearer s3cret-token", "application/geo+json", collection(okA))
	if got.status != 200 {
		t.Errorf("with the token: %d %s, want 200", got.status, got.body)
	}
	if got := post(t, srv.URL, "bearer s3cret-token", "application/geo+json", collection(okA)); got.status != 200 {
		t.Errorf("with a lowercase scheme: %d %s, want 200 (RFC 7235: the scheme is case-insensitive)", got.status, got.body)
	}
}

// TestTokenComparedInConstantTime checks that the token check goes through
// crypto/subtle and never compares the token with == or bytes.Equal, whose
// early exit would let timing reveal a prefix.
func TestTokenComparedInConstantTime(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "push.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "authorized" {
			fn = fd
		}
	}
	if fn == nil {
		t.Fatal("push.go has no authorized method")
	}
	constant := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok {
				switch id.Name + "." + n.Sel.Name {
				case "subtle.ConstantTimeCompare":
					constant = true
				case "bytes.Equal", "strings.Compare", "bytes.Compare", "hmac.Equal":
					t.Errorf("authorized uses %s.%s", id.Name, n.Sel.Name)
				}
			}
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && mentionsToken(n) {
				t.Errorf("authorized compares the token with %s", n.Op)
			}
		}
		return true
	})
	if !constant {
		t.Error("authorized does not call subtle.ConstantTimeCompare")
	}
}

// mentionsToken reports whether a comparison involves the token, other than
// h.token == nil (no token configured) and the result of a call
// (subtle.ConstantTimeCompare(...) == 1), which compare no secret.
func mentionsToken(n *ast.BinaryExpr) bool {
	if id, ok := n.Y.(*ast.Ident); ok && id.Name == "nil" {
		return false
	}
	if _, ok := n.X.(*ast.CallExpr); ok {
		return false
	}
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && (id.Name == "tok" || id.Name == "token") {
			found = true
		}
		return true
	})
	return found
}

func TestHandlerMethod(t *testing.T) {
	e, _ := newEngine(t)
	srv := httptest.NewServer(newHandler(t, e, push.Options{}))
	defer srv.Close()
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, err := http.NewRequest(m, srv.URL+push.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := do(t, req)
		want := `{"error":"method ` + m + ` not allowed; use POST"}` + "\n"
		if got.status != 405 || got.body != want {
			t.Errorf("%s = %d %s, want 405 %s", m, got.status, got.body, want)
		}
		if a := got.header.Get("Allow"); a != "POST" {
			t.Errorf("%s: Allow = %q, want POST", m, a)
		}
	}
}

func TestHandlerBodyLimit(t *testing.T) {
	e, db := newEngine(t)
	srv := httptest.NewServer(newHandler(t, e, push.Options{MaxBodyBytes: 300}))
	defer srv.Close()
	const tooLarge = `{"error":"body larger than 300 bytes"}` + "\n"
	big := collection(okA, okB)
	if len(big) <= 300 {
		t.Fatalf("test body is %d bytes, want more than 300", len(big))
	}
	if got := post(t, srv.URL, "", "application/geo+json", big); got.status != 413 || got.body != tooLarge {
		t.Errorf("POST %d bytes = %d %s, want 413 %s", len(big), got.status, got.body, tooLarge)
	}
	// Without Content-Length (chunked), the limit is hit while reading.
	req, err := http.NewRequest(http.MethodPost, srv.URL+push.Path, io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	if got := do(t, req); got.status != 413 || got.body != tooLarge {
		t.Errorf("chunked POST %d bytes = %d %s, want 413 %s", len(big), got.status, got.body, tooLarge)
	}
	if got := post(t, srv.URL, "", "application/geo+json", okA); got.status != 200 {
		t.Errorf("POST %d bytes = %d %s, want 200", len(okA), got.status, got.body)
	}
	if n := count(t, db); n != 1 {
		t.Errorf("%d observations stored, want 1", n)
	}
}

func TestHandlerRateLimit(t *testing.T) {
	e, _ := newEngine(t)
	now := t0
	h := newHandler(t, e, push.Options{Rate: 0.5, Burst: 2, Token: "tok", Now: func() time.Time { return now }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	const limited = `{"error":"rate limit exceeded, retry after 2s"}` + "\n"
	steps := []struct {
		advance time.Duration
		auth    string
		status  int
	}{
		{0, "Bearer tok", 200},
		{0, "Bearer wrong", 401}, // guesses at the token spend the bucket too
		{0, "Bearer tok", 429},
		{time.Second, "Bearer tok", 429},
		{time.Second, "Bearer tok", 200}, // one token back after 2 s
		{0, "Bearer tok", 429},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		got := post(t, srv.URL, s.auth, "application/geo+json", okA)
		if got.status != s.status {
			t.Errorf("step %d at +%v: %d %s, want %d", i, now.Sub(t0), got.status, got.body, s.status)
		}
		if got.status == 429 {
			if ra := got.header.Get("Retry-After"); ra != "2" && ra != "1" {
				t.Errorf("step %d: Retry-After = %q, want 1 or 2", i, ra)
			}
			if i == 2 && got.body != limited {
				t.Errorf("step %d: body %s, want %s", i, got.body, limited)
			}
		}
	}
	// Idle clients are forgotten: after the idle period the bucket is full.
	now = now.Add(push.DefaultIdle)
	for i := range 2 {
		if got := post(t, srv.URL, "Bearer tok", "application/geo+json", okA); got.status != 200 {
			t.Errorf("after idling, request %d: %d %s, want 200", i, got.status, got.body)
		}
	}
}

func TestHandlerStoreFailure(t *testing.T) {
	e, db := newEngine(t)
	core, logs := observer.New(zapcore.DebugLevel)
	srv := httptest.NewServer(newHandler(t, e, push.Options{Log: zap.New(core)}))
	defer srv.Close()
	db.Close()
	got := post(t, srv.URL, "", "application/geo+json", collection(okA))
	const want = `{"error":"store unavailable; nothing was stored, retry later"}` + "\n"
	if got.status != 503 || got.body != want {
		t.Errorf("POST with the store closed = %d %s, want 503 %s", got.status, got.body, want)
	}
	if strings.Contains(got.body, db.Path()) || strings.Contains(got.body, ".db") {
		t.Errorf("response %s carries the database path", got.body)
	}
	if ra := got.header.Get("Retry-After"); ra == "" {
		t.Error("no Retry-After on 503")
	}
	entries := logs.FilterMessage("push ingest failed").All()
	if len(entries) != 1 {
		t.Fatalf("%d %q log lines, want 1", len(entries), "push ingest failed")
	}
	if err := entries[0].ContextMap()["error"]; err == nil || !strings.Contains(err.(string), "closed") {
		t.Errorf("logged error %v, want the store's detail", err)
	}
}

func TestNew(t *testing.T) {
	ingest := func(context.Context, string, monitor.Batch, time.Time) (monitor.IngestResult, []monitor.Reject, error) {
		return monitor.IngestResult{}, nil, errors.New("unused")
	}
	for _, opt := range []push.Options{
		{Source: "push"},
		{Ingest: ingest},
		{Ingest: ingest, Source: "push", Rate: -1},
	} {
		if _, err := push.New(opt); err == nil {
			t.Errorf("New(%+v) = nil error, want one", opt)
		}
	}
}

// FuzzHandler posts arbitrary bodies through the handler into a real store:
// it never panics, answers 200, 400, 413 or 422, and accounts for each
// rejected record at a distinct position in the request.
func FuzzHandler(f *testing.F) {
	seeds, err := filepath.Glob("../geojson/testdata/*json")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{collection(okA, badC, okB), okA + "\n\n" + badC + "\n{x\n", "", "null", "[]", "\x1e" + okA, okA} {
		f.Add([]byte(s))
	}
	e, _ := newEngine(f)
	h := newHandler(f, e, push.Options{MaxBodyBytes: 64 << 10})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, push.Path, strings.NewReader(string(body)))
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 413, 422:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Code != 200 && rec.Code != 422 {
			return
		}
		var resp push.Response
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("response %q: %v", rec.Body, err)
		}
		if (rec.Code == 422) != (len(resp.Rejected) > 0) {
			t.Fatalf("status %d with %d rejected", rec.Code, len(resp.Rejected))
		}
		if resp.Stored != resp.Added+resp.Updated+resp.Duplicates {
			t.Fatalf("stored %d != added+updated+duplicates in %+v", resp.Stored, resp)
		}
		prev := -1
		for _, r := range resp.Rejected {
			if r.Index <= prev || r.Record == "" || r.Field == "" || r.Reason == "" {
				t.Fatalf("rejected %+v after index %d", r, prev)
			}
			prev = r.Index
		}
	})
}

// FuzzPositions checks what the push reply rests on: geojson.Parse gives every
// record of a body, observation or reject, its own position, and together they
// are 0…n-1, so a reply can name each refused record without parsing a locator.
func FuzzPositions(f *testing.F) {
	for _, s := range []string{collection(okA, badC, okB), okA + "\n \x1e\n" + badC + "\n{x\n", okA, "\ufeff" + okA + "\r\n" + okB} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := geojson.Parse(body, geojson.Options{})
		if err != nil {
			if !errors.Is(err, geojson.ErrNotGeoJSON) {
				t.Fatalf("error %v does not wrap ErrNotGeoJSON", err)
			}
			return
		}
		n := len(b.Observations) + len(b.Rejects)
		seen := make([]bool, n)
		mark := func(p monitor.Position) {
			if p.Index < 0 || int(p.Index) >= n || seen[p.Index] {
				t.Fatalf("position %+v repeated or outside 0…%d", p, n-1)
			}
			seen[p.Index] = true
		}
		for _, o := range b.Observations {
			mark(o.Pos)
		}
		for _, r := range b.Rejects {
			mark(r.Pos)
		}
	})
}

// TestHandlerHostileText: control characters in the text fields are stored
// as U+FFFD (tab and newline kept), a NUL in the id is refused, and a 1 MiB
// id is quoted in the answer only up to a marked cut.
func TestHandlerHostileText(t *testing.T) {
	e, db := newEngine(t)
	srv := httptest.NewServer(newHandler(t, e, push.Options{}))
	defer srv.Close()
	nul := `{"type":"Feature","id":"n1","geometry":{"type":"Point","coordinates":[131.9,43.1]},"properties":{"time":"2024-05-01T10:00:00Z","title":"before\u0000after\ttab\nline\u001b[31m","place":"Vlad\u0007ivostok"}}`
	nulID := `{"type":"Feature","id":"n\u00002","geometry":{"type":"Point","coordinates":[131.9,43.1]},"properties":{"time":"2024-05-01T10:00:00Z"}}`
	long := feature(strings.Repeat("x", 1<<20), 131.9, 43.1, "2024-05-01T10:00:00Z")
	got := post(t, srv.URL, "", "application/geo+json", collection(nul, nulID, long))
	if got.status != 422 || len(got.body) > 2000 {
		t.Fatalf("POST = %d, %d bytes: %.300s; want 422 and a short body", got.status, len(got.body), got.body)
	}
	var resp push.Response
	if err := json.Unmarshal([]byte(got.body), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Stored != 1 || len(resp.Rejected) != 2 || resp.Stored+len(resp.Rejected) != 3 {
		t.Fatalf("response %+v, want 1 stored and 2 rejected", resp)
	}
	if r := resp.Rejected[0]; r.Index != 1 || r.Field != "id" {
		t.Errorf("first reject %+v, want index 1, field id", r)
	}
	if r := resp.Rejected[1]; r.Index != 2 || r.Field != "id" || !strings.Contains(r.Record, "more bytes)") || len(r.Record) > 300 {
		t.Errorf("second reject %.400v, want index 2, field id and the id cut with a marker", r)
	}
	var obs []monitor.Observation
	if err := db.Query(context.Background(), store.QueryFilter{}, func(o monitor.Observation) error {
		obs = append(obs, o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(obs) != 1 {
		t.Fatalf("%d stored, want 1", len(obs))
	}
	if want := "before\ufffdafter\ttab\nline\ufffd[31m"; obs[0].Title != want {
		t.Errorf("title stored %q, want %q", obs[0].Title, want)
	}
	if want := "Vlad\ufffdivostok"; obs[0].Place != want {
		t.Errorf("place stored %q, want %q", obs[0].Place, want)
	}
}
