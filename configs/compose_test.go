// Package configs holds the configuration files the node and the
// deployment read; its test checks docker-compose.yml with the Compose
// specification's own loader, so `make compose-check` needs no Docker.
package configs

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// secretVars are the values docker-compose.yml must take from the
// environment (or an .env file made from .env.example), with no default.
var secretVars = []string{
	"MYSQL_ROOT_PASSWORD",
	"MYSQL_PASSWORD",
	"SHELFLIFE_JWT_SECRET",
	"SHELFLIFE_ADMIN_PASSWORD",
	"SHELFLIFE_KAKAO_SECRET_KEY",
}

// testEnv gives every secret a recognisable value.
func testEnv() types.Mapping {
	env := types.Mapping{}
	for _, k := range secretVars {
		env[k] = "from-env-" + strings.ToLower(k)
	}
	return env
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func loadCompose(t *testing.T, env types.Mapping) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	file := filepath.Join(root, "docker-compose.yml")
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: file}},
		Environment: env,
	}
	return loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("shelflife", true)
		o.ResolvePaths = true
	})
}

func mustLoadCompose(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadCompose(t, testEnv())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// nodeServices are the ShelfLife nodes: the services that set a cluster host.
func nodeServices(p *types.Project) []types.ServiceConfig {
	var nodes []types.ServiceConfig
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if _, ok := s.Environment["SHELFLIFE_CLUSTER_HOST"]; ok {
			nodes = append(nodes, s)
		}
	}
	return nodes
}

var imageRef = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?([a-z0-9._/-]*)?:[A-Za-z0-9_][A-Za-z0-9._-]*$`)

func TestComposeServicesHaveImageOrBuild(t *testing.T) {
	p := mustLoadCompose(t)
	if len(p.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		switch {
		case s.Build != nil:
			dockerfile := s.Build.Dockerfile
			if dockerfile == "" {
				dockerfile = "Dockerfile"
			}
			if !filepath.IsAbs(dockerfile) {
				dockerfile = filepath.Join(s.Build.Context, dockerfile)
			}
			if _, err := os.Stat(dockerfile); err != nil {
				t.Errorf("service %s builds from %s: %v", name, dockerfile, err)
			}
		case s.Image != "":
			// A pinned tag, never an implicit :latest.
			if !imageRef.MatchString(s.Image) || strings.HasSuffix(s.Image, ":latest") {
				t.Errorf("service %s: image %q has no pinned tag", name, s.Image)
			}
		default:
			t.Errorf("service %s has neither image nor build", name)
		}
	}
}

// TestComposeDockerfileInputsExist checks that what the Dockerfile copies
// and builds is in the repository, and that the fake Kakao Pay service runs
// a binary the Dockerfile builds.
func TestComposeDockerfileInputsExist(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	builds := regexp.MustCompile(`-o (/\S+) (\./cmd/\S+)`).FindAllStringSubmatch(string(data), -1)
	if len(builds) == 0 {
		t.Fatal("the Dockerfile builds no ./cmd/ binary")
	}
	built := map[string]bool{}
	for _, b := range builds {
		built[filepath.Base(b[1])] = true
		if st, err := os.Stat(filepath.Join(root, b[2])); err != nil || !st.IsDir() {
			t.Errorf("the Dockerfile builds %s, which is not in the repository", b[2])
		}
	}
	for _, c := range regexp.MustCompile(`(?m)^COPY ([^-\s]\S*) /`).FindAllStringSubmatch(string(data), -1) {
		if _, err := os.Stat(filepath.Join(root, c[1])); err != nil {
			t.Errorf("the Dockerfile copies %s: %v", c[1], err)
		}
	}
	p := mustLoadCompose(t)
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Build == nil || len(s.Entrypoint) == 0 {
			continue
		}
		if bin := filepath.Base(s.Entrypoint[0]); !built[bin] {
			t.Errorf("service %s runs %s, which the Dockerfile does not build", name, s.Entrypoint[0])
		}
	}
}

func TestComposeMountedFilesAreInRepo(t *testing.T) {
	p := mustLoadCompose(t)
	root := repoRoot(t)
	mounts := 0
	for _, name := range p.ServiceNames() {
		for _, v := range p.Services[name].Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			mounts++
			rel, err := filepath.Rel(root, v.Source)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("service %s mounts %s, outside the repository", name, v.Source)
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("service %s mounts %s: %v", name, rel, err)
			}
		}
	}
	if mounts == 0 {
		t.Error("no bind mount found (nginx.conf was expected): the check would pass vacuously")
	}
}

// nodeConfig is the part of a node's config file this test reads.
type nodeConfig struct {
	Cluster struct {
		Provider      string   `yaml:"provider"`
		EtcdEndpoints []string `yaml:"etcd_endpoints"`
	} `yaml:"cluster"`
}

// TestComposeNodesUseEtcd checks that every node runs the config file the
// image ships (configs/compose.yaml), that it names the etcd provider with
// an endpoint that is a compose service, that no environment variable
// switches the provider, and that each node waits for etcd.
func TestComposeNodesUseEtcd(t *testing.T) {
	root := repoRoot(t)
	docker, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(docker), "COPY configs/compose.yaml /configs/compose.yaml") ||
		!regexp.MustCompile(`ENTRYPOINT \[.*"-config", "/configs/compose.yaml"\]`).Match(docker) {
		t.Fatal("the image does not run with configs/compose.yaml")
	}
	data, err := os.ReadFile(filepath.Join(root, "configs", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg nodeConfig
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.Provider != "etcd" {
		t.Errorf("configs/compose.yaml cluster.provider = %q, want etcd", cfg.Cluster.Provider)
	}
	p := mustLoadCompose(t)
	if len(cfg.Cluster.EtcdEndpoints) == 0 {
		t.Fatal("configs/compose.yaml names no etcd endpoint")
	}
	etcdService := strings.Split(cfg.Cluster.EtcdEndpoints[0], ":")[0]
	if _, ok := p.Services[etcdService]; !ok {
		t.Errorf("etcd endpoint %s is not a compose service", cfg.Cluster.EtcdEndpoints[0])
	}
	nodes := nodeServices(p)
	if len(nodes) < 2 {
		t.Fatalf("%d node services, want a cluster of several", len(nodes))
	}
	for _, n := range nodes {
		if n.Build == nil || len(n.Entrypoint) != 0 {
			t.Errorf("node %s does not run the image's shelflife entrypoint", n.Name)
		}
		if v, ok := n.Environment["SHELFLIFE_CLUSTER_PROVIDER"]; ok && (v == nil || *v != "etcd") {
			t.Errorf("node %s overrides the cluster provider", n.Name)
		}
		if _, ok := n.DependsOn[etcdService]; !ok && n.Name == nodes[0].Name {
			t.Errorf("the first node %s does not wait for %s", n.Name, etcdService)
		}
	}
}

// TestComposeSecretsFromEnvironment checks that every secret reaches the
// services from the environment and that the file has no default for one:
// without the variable, loading fails and names it.
func TestComposeSecretsFromEnvironment(t *testing.T) {
	p := mustLoadCompose(t)
	env := testEnv()
	seen := map[string]bool{}
	for _, name := range p.ServiceNames() {
		for k, v := range p.Services[name].Environment {
			if v == nil {
				continue
			}
			for _, secret := range secretVars {
				if strings.Contains(*v, env[secret]) {
					seen[secret] = true
				}
			}
			if isSecretName(k) && !slices.ContainsFunc(secretVars, func(s string) bool { return strings.Contains(*v, env[s]) }) {
				t.Errorf("service %s: %s=%q is written in the file, not taken from the environment", name, k, *v)
			}
		}
	}
	for _, secret := range secretVars {
		if !seen[secret] {
			t.Errorf("%s from the environment reaches no service", secret)
		}
	}
	for _, secret := range secretVars {
		t.Run("without "+secret, func(t *testing.T) {
			env := testEnv()
			delete(env, secret)
			_, err := loadCompose(t, env)
			if err == nil {
				t.Fatalf("docker-compose.yml loads without %s: it has a default", secret)
			}
			if !strings.Contains(err.Error(), secret) {
				t.Errorf("the error does not name %s: %v", secret, err)
			}
		})
	}
}

func isSecretName(k string) bool {
	k = strings.ToUpper(k)
	return strings.Contains(k, "PASSWORD") || strings.Contains(k, "SECRET") || strings.HasSuffix(k, "_DSN")
}

// TestEnvExampleListsEverySecret keeps .env.example in step with the file.
func TestEnvExampleListsEverySecret(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secretVars {
		if !regexp.MustCompile(`(?m)^` + secret + `=`).Match(data) {
			t.Errorf(".env.example lacks %s", secret)
		}
	}
}

// Without SHELFLIFE_DEMO no node loads the demo data, and the fake Kakao
// Pay (whose inject and ledger endpoints are open) is published on the
// host's loopback only.
func TestComposeIsNotADemoByDefault(t *testing.T) {
	p := mustLoadCompose(t)
	for _, n := range nodeServices(p) {
		if v, ok := n.Environment["SHELFLIFE_DEMO"]; ok && v != nil && *v != "false" {
			t.Errorf("%s: SHELFLIFE_DEMO = %q without it in the environment, want false", n.Name, *v)
		}
	}
	for _, name := range p.ServiceNames() {
		for _, port := range p.Services[name].Ports {
			if port.Target == 8090 && port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes port 8090 on %q, want 127.0.0.1 only", name, port.HostIP)
			}
		}
	}
}
