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
