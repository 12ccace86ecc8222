package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeToken(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHTTP(t *testing.T) {
	token := writeToken(t, "  s3cret\n")
	src := `http:
  listen: 0.0.0.0:9000
  token_file: ` + token + `
  max_body: 1MiB
  rate: 2.5
  burst: 5
sources:
  - name: field-teams
    type: push
    kind: field_report
    fields:
      time: observed
`
	c, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	want := HTTP{Listen: "0.0.0.0:9000", Token: "s3cret", MaxBodyBytes: 1 << 20, Rate: 2.5, Burst: 5,
		MaxInFlight: DefaultMaxInFlight, BodyTimeout: DefaultBodyTimeout, WriteWait: DefaultWriteWait,
		MetricsToken: true} // a token on a non-loopback address guards /metrics and /readyz too
	if p.HTTP == nil || *p.HTTP != want {
		t.Errorf("HTTP = %+v, want %+v", p.HTTP, want)
	}
	if p.Push == nil || p.Push.Source != "field-teams" || p.Push.GeoJSON.DefaultKind != "field_report" || p.Push.GeoJSON.TimeProperty != "observed" {
		t.Errorf("Push = %+v, want source field-teams, kind field_report, time property observed", p.Push)
	}
	if len(p.Checks) != 0 {
		t.Errorf("%d checks, want none: a push source is not scheduled", len(p.Checks))
	}

	c, err = Parse([]byte("http: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ = c.Build()
	want = HTTP{Listen: DefaultListen, MaxBodyBytes: DefaultMaxBodyBytes, Rate: DefaultPushRate, Burst: DefaultPushBurst,
		MaxInFlight: DefaultMaxInFlight, BodyTimeout: DefaultBodyTimeout, WriteWait: DefaultWriteWait}
	if p.HTTP == nil || *p.HTTP != want || p.Push != nil {
		t.Errorf("http: {} gives %+v and push %+v, want %+v and no push", p.HTTP, p.Push, want)
	}
	c, _ = Parse([]byte("log: {level: info}\n"))
	if p, _ := c.Build(); p.HTTP != nil {
		t.Errorf("no http block gives HTTP %+v, want nil (no listener)", p.HTTP)
	}
}

func TestHTTPErrors(t *testing.T) {
	empty := writeToken(t, " \n\t")
	token := writeToken(t, "tok")
	const base = `http:
  listen: 127.0.0.1:8080
sources:
  - name: push
    type: push
`
	tests := []struct {
		name      string
		from, to  string
		wantField string
		wantLine  int
		wantErr   error
	}{
		{"push without http", "http:\n  listen: 127.0.0.1:8080\n", "", "sources[0].type", 3, ErrRequired},
		{"push with a schedule", "type: push\n", "type: push\n    schedule: \"@every 1m\"\n", "sources[0].schedule", 6, ErrNotApplied},
		{"push with a url", "type: push\n", "type: push\n    url: http://127.0.0.1/\n", "sources[0].url", 6, ErrNotApplied},
		{"push with a csv preset", "type: push\n", "type: push\n    preset: acled\n", "sources[0].preset", 6, ErrNotApplied},
		{"two push sources", "type: push\n", "type: push\n  - name: push2\n    type: push\n", "sources[1].type", 7, ErrDuplicate},
		{"all interfaces without a token", "127.0.0.1:8080", "0.0.0.0:8080", "http.listen", 2, ErrNoToken},
		{"empty host without a token", "127.0.0.1:8080", ":8080", "http.listen", 2, ErrNoToken},
		{"a name without a token", "127.0.0.1:8080", "geowatch.example:8080", "http.listen", 2, ErrNoToken},
		{"empty token file", "127.0.0.1:8080\n", "127.0.0.1:8080\n  token_file: " + empty + "\n", "http.token_file", 3, nil},
		{"missing token file", "127.0.0.1:8080\n", "127.0.0.1:8080\n  token_file: " + token + ".missing\n", "http.token_file", 3, os.ErrNotExist},
		{"bad listen", "127.0.0.1:8080", "127.0.0.1", "http.listen", 2, nil},
		{"bad port", "127.0.0.1:8080", "127.0.0.1:http-alt", "http.listen", 2, nil},
		{"bad max_body", "127.0.0.1:8080\n", "127.0.0.1:8080\n  max_body: 8 parsecs\n", "http.max_body", 3, nil},
		{"zero max_body", "127.0.0.1:8080\n", "127.0.0.1:8080\n  max_body: 0MiB\n", "http.max_body", 3, ErrNotPositive},
		{"negative rate", "127.0.0.1:8080\n", "127.0.0.1:8080\n  rate: -1\n", "http.rate", 3, nil},
		{"zero burst", "127.0.0.1:8080\n", "127.0.0.1:8080\n  burst: 0\n", "http.burst", 3, ErrNotPositive},
		{"negative max_in_flight", "127.0.0.1:8080\n", "127.0.0.1:8080\n  max_in_flight: -1\n", "http.max_in_flight", 3, ErrNotPositive},
		{"zero body_timeout", "127.0.0.1:8080\n", "127.0.0.1:8080\n  body_timeout: 0s\n", "http.body_timeout", 3, ErrNotPositive},
		{"bad write_wait", "127.0.0.1:8080\n", "127.0.0.1:8080\n  write_wait: soon\n", "http.write_wait", 3, nil},
		{"metrics_auth token without a token", "127.0.0.1:8080\n", "127.0.0.1:8080\n  metrics_auth: token\n", "http.metrics_auth", 3, nil},
		{"unknown metrics_auth", "127.0.0.1:8080\n", "127.0.0.1:8080\n  metrics_auth: basic\n", "http.metrics_auth", 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.from, tc.to, 1)
			if src == base {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, err := Parse([]byte(src))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want a *FieldError", err)
			}
			if fe.Field != tc.wantField {
				t.Errorf("field = %q, want %q (error %v)", fe.Field, tc.wantField, err)
			}
			if fe.Line != tc.wantLine {
				t.Errorf("line = %d, want %d (error %v)", fe.Line, tc.wantLine, err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
		})
	}
}

func TestHTTPLoopbackAllowedWithoutToken(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:8080", "[::1]:8080", "localhost:8080", "127.0.0.2:0"} {
		src := "http:\n  listen: \"" + listen + "\"\nsources:\n  - name: push\n    type: push\n"
		if _, err := Parse([]byte(src)); err != nil {
			t.Errorf("listen %s without a token: %v, want ok", listen, err)
		}
	}
	// Without a push source there is nothing for the token to protect.
	if _, err := Parse([]byte("http:\n  listen: \":9100\"\n")); err != nil {
		t.Errorf("metrics only on :9100: %v, want ok", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"8MiB", 8 << 20, false},
		{"512 KiB", 512 << 10, false},
		{"1MB", 1e6, false},
		{"1.5kib", 1536, false},
		{"100", 100, false},
		{"100B", 100, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"8 parsecs", 0, true},
		{"1e3", 0, true},
		{"9999999999GiB", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
