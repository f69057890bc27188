package config

import (
	"strings"
	"testing"
	"time"

	"shelflife/domain"
)

type inner struct {
	Port int `yaml:"port"`
}

type conf struct {
	Wait   Duration         `yaml:"wait"`
	Ladder domain.Ladder    `yaml:"ladder"`
	Limit  domain.DealLimit `yaml:"limit"`
	Names  []string         `yaml:"names"`
	Inner  inner            `yaml:"inner"`
}

func TestDecodesOnceIntoTypedValues(t *testing.T) {
	var c conf
	err := decodeYAML([]byte("wait: 15s\nladder: 24h:50,6h:70\nlimit: 3\ninner:\n  port: 7\n"), &c)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"X_NAMES": "a, b", "X_INNER_PORT": "8", "X_LADDER": "48h:30"}
	if err := applyEnvTo(&c, "X_", func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Wait.D() != 15*time.Second || c.Ladder.String() != "48h0m0s:30" || c.Limit != 3 || len(c.Names) != 2 || c.Inner.Port != 8 {
		t.Errorf("decoded %+v", c)
	}
	if got := envNames(conf{}, "X_"); len(got) != 5 || got[4] != "X_INNER_PORT" {
		t.Errorf("EnvNames = %v", got)
	}
}

// A bad value or an unknown key fails, naming the key.
func TestBadValuesNameTheirKey(t *testing.T) {
	for _, tc := range []struct{ yaml, key string }{
		{"wait: soon\n", "wait"},
		{"ladder: 48h\n", "ladder"},
		{"limit: many\n", "limit"},
		{"inner:\n  port: x\n", "inner.port"},
		{"colour: red\n", "colour"},
	} {
		var c conf
		if err := decodeYAML([]byte(tc.yaml), &c); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q: %v, want an error naming %s", tc.yaml, err, tc.key)
		}
	}
	for _, name := range []string{"X_WAIT", "X_LADDER", "X_LIMIT", "X_INNER_PORT"} {
		var c conf
		err := applyEnvTo(&c, "X_", func(k string) string {
			if k == name {
				return "??"
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=??: %v, want an error naming it", name, err)
		}
	}
	var c conf
	if err := decodeYAML(nil, &c); err != nil {
		t.Errorf("an empty file: %v", err)
	}
}
