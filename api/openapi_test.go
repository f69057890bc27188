package api

import (
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type openAPIDoc struct {
	OpenAPI string                            `yaml:"openapi"`
	Paths   map[string]map[string]interface{} `yaml:"paths"`
}

var fiberParam = regexp.MustCompile(`:([A-Za-z_]+)\??`)

// documentedRoutes lists "METHOD /path" for every operation of the document.
func documentedRoutes(t *testing.T) map[string]bool {
	t.Helper()
	var doc openAPIDoc
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	out := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch":
				out[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	return out
}

// registeredRoutes lists "METHOD /path" for every route the server serves,
// with Fiber's :param written as OpenAPI's {param}.
func registeredRoutes(t *testing.T, s *Server) map[string]bool {
	out := map[string]bool{}
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" || strings.HasPrefix(r.Path, "/test/") {
			continue
		}
		if !strings.HasPrefix(r.Path, "/api/") && r.Path != "/healthz" && r.Path != "/readyz" && r.Path != "/metrics" {
			continue // web pages and their assets are not API
		}
		out[r.Method+" "+fiberParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	return out
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	srv, err := New(Config{JWTSecret: testSecret, BcryptCost: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	doc := documentedRoutes(t)
	reg := registeredRoutes(t, srv)
	var missing, stale []string
	for r := range reg {
		if !doc[r] {
			missing = append(missing, r)
		}
	}
	for r := range doc {
		if !reg[r] {
			stale = append(stale, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("routes missing from api/openapi.yaml:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("api/openapi.yaml names routes the server does not have:\n  %s", strings.Join(stale, "\n  "))
	}
	if len(reg) < 10 {
		t.Errorf("only %d routes registered; the route walk is broken", len(reg))
	}
}
