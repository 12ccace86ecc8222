package configs

import (
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServiceConfig checks geowatch.yaml, the config systemd/install.sh puts in
// /etc/geowatch: it is valid although none of its paths exist here, listens on
// loopback only, writes only where the unit lets it (StateDirectory and
// LogsDirectory), and watches what the default config watches.
func TestServiceConfig(t *testing.T) {
	c, err := Load("geowatch.yaml")
	if err != nil {
		t.Fatalf("Load(geowatch.yaml): %v", err)
	}
	p, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	if want := "/var/lib/geowatch/geowatch.gpkg"; p.Database != want {
		t.Errorf("database = %q, want %q", p.Database, want)
	}
	if p.HTTP == nil {
		t.Fatal("no http block")
	}
	host, _, err := net.SplitHostPort(p.HTTP.Listen)
	if ip, perr := netip.ParseAddr(host); err != nil || perr != nil || !ip.IsLoopback() {
		t.Errorf("http.listen = %q, want a loopback address", p.HTTP.Listen)
	}

	writable := func(path string) bool {
		return strings.HasPrefix(path, "/var/lib/geowatch/") || strings.HasPrefix(path, "/var/log/geowatch/")
	}
	written := []string{p.Database}
	for _, s := range c.Sources {
		if s.Dir != "" {
			written = append(written, filepath.Join(s.Dir, "x")) // spool moves files into done/, failed/
		}
	}
	var alertsFile bool
	for _, s := range p.Subscribers {
		if s.Sink == "file" {
			written = append(written, s.Path)
			alertsFile = alertsFile || s.Path == "/var/log/geowatch/alerts.jsonl"
		}
	}
	for _, w := range written {
		if !writable(w) {
			t.Errorf("%s is outside the unit's StateDirectory and LogsDirectory", w)
		}
	}
	if !alertsFile {
		t.Error("no file subscriber writes /var/log/geowatch/alerts.jsonl")
	}

	def, err := Parse(DefaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	names := func(c *Config) []string {
		var out []string
		for _, w := range c.Watches {
			out = append(out, w.Name+"@"+w.Place)
		}
		return out
	}
	if got, want := names(c), names(def); !slices.Equal(got, want) {
		t.Errorf("watches %q, want the default config's %q", got, want)
	}
}
