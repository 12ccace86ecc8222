package configs

import (
	"os"
	"strings"
	"testing"
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
