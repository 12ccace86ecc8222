package configs

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestREADMEConfig keeps the README's configuration reference valid: its first
// YAML block after "## Configuration" must parse and build.
func TestREADMEConfig(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "## Configuration")
	if i < 0 {
		t.Fatal(`README.md has no "## Configuration" section`)
	}
	start := strings.Index(s[i:], "```yaml\n")
	if start < 0 {
		t.Fatal("no yaml block in the Configuration section")
	}
	block := s[i+start+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	c, err := Parse([]byte(block))
	if err != nil {
		t.Fatalf("the README's configuration example does not parse:\n%v", err)
	}
	if _, err := c.Build(); err != nil {
		t.Fatal(err)
	}
}

// TestREADMEDedupe builds the README's dedupe example into a rule and checks
// that the values reach the rule's spec, and that bad values are errors at
// their field.
func TestREADMEDedupe(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "Near-duplicates:")
	if i < 0 {
		t.Fatal("README.md has no near-duplicates paragraph")
	}
	block := s[i+strings.Index(s[i:], "```yaml\n")+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	cfg := "watches:\n  - name: w\n    lat: 43.1\n    lon: 131.9\n    radius: 50km\n    rules:\n" + block
	c, err := Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Watches[0].Watch.Rules[0].Dedupe; got.Within != 25_000 || got.Window != time.Hour || !got.Enabled() {
		t.Errorf("dedupe = %+v, want 25 km within 1h", got)
	}
	bad := strings.Replace(cfg, "dedupe: {within: 25km, window: 1h}", "dedupe: {within: 25 parsecs}", 1)
	if c, err = Parse([]byte(bad)); err == nil {
		_, err = c.Build()
	}
	if err == nil || !strings.Contains(err.Error(), "rules[0].dedupe.within") || !strings.Contains(err.Error(), "rules[0].dedupe.window") {
		t.Errorf("bad dedupe: %v, want errors at dedupe.within and dedupe.window", err)
	}
}

// TestREADMEHTTPConfig keeps the README's http example valid: the yaml block
// of "### HTTP: push ingest, health and metrics" builds, with its token_file
// pointed at a real file, into the settings its comments name.
func TestREADMEHTTPConfig(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "### HTTP: push ingest, health and metrics")
	if i < 0 {
		t.Fatal("README.md has no HTTP section")
	}
	start := strings.Index(s[i:], "```yaml\n")
	block := s[i+start+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	block = strings.Replace(block, "/etc/geowatch/push.token", writeToken(t, "tok\n"), 1)
	c, err := Parse([]byte(block))
	if err != nil {
		t.Fatalf("the README's http example does not parse:\n%v", err)
	}
	p, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	h := p.HTTP
	if h.MaxInFlight != 32 || h.BodyTimeout != DefaultBodyTimeout || h.WriteWait != DefaultWriteWait || !h.MetricsToken || h.Token != "tok" {
		t.Errorf("README http example builds %+v", h)
	}
}
