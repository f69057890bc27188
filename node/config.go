package node

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"shelflife/domain"
)

// Duration is a time.Duration written as "15s" in YAML and environment.
type Duration time.Duration

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML reads "15s", "2m", "1h30m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q: %w", n.Line, n.Value, err)
	}
	*d = Duration(v)
	return nil
}

// ClusterConfig says how this node joins the actor cluster.
type ClusterConfig struct {
	Name     string `yaml:"name"`
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Provider string `yaml:"provider"`
	// Peers and AutomanPort configure the automanaged provider: every
	// member's host:automan_port, and this member's.
	Peers       []string `yaml:"peers"`
	AutomanPort int      `yaml:"automan_port"`
	// EtcdEndpoints configure the etcd provider (production).
	EtcdEndpoints []string `yaml:"etcd_endpoints"`
}

// Config is a node's whole configuration. Every key can be set in the YAML
// file and overridden by the environment variable SHELFLIFE_<KEY> (nested
// keys joined by _, e.g. SHELFLIFE_CLUSTER_PORT).
type Config struct {
	HTTPAddr          string           `yaml:"http_addr"`
	MySQLDSN          string           `yaml:"mysql_dsn"`
	MySQLMaxConns     int              `yaml:"mysql_max_conns"`
	RedisAddr         string           `yaml:"redis_addr"`
	RedisPrefix       string           `yaml:"redis_prefix"`
	KafkaBrokers      []string         `yaml:"kafka_brokers"`
	KafkaEmbeddedPort int              `yaml:"kafka_embedded_port"`
	Demo              bool             `yaml:"demo"`
	JWTSecret         string           `yaml:"jwt_secret"`
	TokenTTL          Duration         `yaml:"token_ttl"`
	BcryptCost        int              `yaml:"bcrypt_cost"`
	AdminEmail        string           `yaml:"admin_email"`
	AdminPassword     string           `yaml:"admin_password"`
	LogLevel          string           `yaml:"log_level"`
	LogFormat         string           `yaml:"log_format"`
	ShutdownTimeout   Duration         `yaml:"shutdown_timeout"`
	RequestTimeout    Duration         `yaml:"request_timeout"`
	BodyLimitBytes    int              `yaml:"body_limit_bytes"`
	MarkdownLadder    domain.Ladder    `yaml:"markdown_ladder"`
	SweepInterval     Duration         `yaml:"sweep_interval"`
	PublicURL         string           `yaml:"public_url"`
	KakaoBaseURL      string           `yaml:"kakao_base_url"`
	KakaoSecretKey    string           `yaml:"kakao_secret_key"`
	KakaoCID          string           `yaml:"kakao_cid"`
	KakaoTimeout      Duration         `yaml:"kakao_timeout"`
	KakaoFakeAddr     string           `yaml:"kakao_fake_addr"`
	PaymentValidity   Duration         `yaml:"payment_validity"`
	DealLimit         domain.DealLimit `yaml:"deal_limit"`
	SagaStuckAfter    Duration         `yaml:"saga_stuck_after"`
	OutboxInterval    Duration         `yaml:"outbox_interval"`
	// OrderAdmission is how many orders one node places at once; the others
	// wait in line (see admission). 0: no bound.
	OrderAdmission int `yaml:"order_admission"`
	// FaultCrashAfter makes the process kill itself (SIGKILL) right after an
	// order saga reaches this step: READY, DEDUCTING, APPROVING or
	// APPROVED. For crash tests only; empty in every real configuration.
	FaultCrashAfter string `yaml:"fault_crash_after"`
	// DebugAddr, when set, serves Go's profiler (/debug/pprof/) there.
	// Keep it on a loopback or private address.
	DebugAddr string `yaml:"debug_addr"`
	// MetricsAddr, when set, serves /metrics and Go's profiler there for
	// operators, and the public listener no longer serves /metrics.
	MetricsAddr string `yaml:"metrics_addr"`
	// WSPerAddress bounds the WebSockets open at once from one client
	// address (0: no bound).
	WSPerAddress int `yaml:"ws_per_address"`
	// TrustedProxies are the load balancers whose X-Forwarded-For names
	// the client (addresses or CIDRs).
	TrustedProxies []string      `yaml:"trusted_proxies"`
	Cluster        ClusterConfig `yaml:"cluster"`
}

// Defaults work on a developer machine with MariaDB and Redis on 127.0.0.1.
func Defaults() Config {
	return Config{
		HTTPAddr:        "127.0.0.1:8080",
		MySQLDSN:        "root@tcp(127.0.0.1:3306)/shelflife?parseTime=true",
		MySQLMaxConns:   32,
		RedisAddr:       "127.0.0.1:6379",
		RedisPrefix:     "shelflife:",
		TokenTTL:        Duration(24 * time.Hour),
		BcryptCost:      10,
		AdminEmail:      "admin@shelflife.test",
		LogLevel:        "info",
		LogFormat:       "json",
		ShutdownTimeout: Duration(15 * time.Second),
		RequestTimeout:  Duration(15 * time.Second),
		BodyLimitBytes:  64 << 10,
		MarkdownLadder:  domain.DefaultLadder(),
		SweepInterval:   Duration(30 * time.Second),
		KakaoSecretKey:  "DEV-shelflife-local",
		KakaoCID:        "TC0ONETIME",
		KakaoTimeout:    Duration(10 * time.Second),
		KakaoFakeAddr:   "127.0.0.1:8090",
		PaymentValidity: Duration(15 * time.Minute),
		DealLimit:       domain.DefaultDealLimit,
		OrderAdmission:  16,
		WSPerAddress:    64,
		SagaStuckAfter:  Duration(30 * time.Second),
		OutboxInterval:  Duration(200 * time.Millisecond),
		Cluster:         ClusterConfig{Name: "shelflife", Host: "127.0.0.1", Port: 0, Provider: "test"},
	}
}

// EnvPrefix starts every environment variable the node reads.
const EnvPrefix = "SHELFLIFE_"

// LoadConfig reads the defaults, then the YAML file at path (if path is not
// empty), then the environment through getenv.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := Defaults()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), EnvPrefix, getenv); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// EnvNames lists every environment variable the configuration reads.
func EnvNames() []string {
	var names []string
	walkEnv(reflect.TypeOf(Config{}), EnvPrefix, func(name string) { names = append(names, name) })
	return names
}

func walkEnv(t reflect.Type, prefix string, fn func(string)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := prefix + strings.ToUpper(f.Tag.Get("yaml"))
		if f.Type.Kind() == reflect.Struct {
			walkEnv(f.Type, name+"_", fn)
			continue
		}
		fn(name)
	}
}

func applyEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := prefix + strings.ToUpper(f.Tag.Get("yaml"))
		field := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(field, name+"_", getenv); err != nil {
				return err
			}
			continue
		}
		raw, ok := lookup(getenv, name)
		if !ok {
			continue
		}
		if err := setField(field, raw); err != nil {
			return fmt.Errorf("%s=%q: %w", name, raw, err)
		}
	}
	return nil
}

// lookup treats an unset and an empty variable alike: empty keeps the file's
// value or the default.
func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	if v == "" {
		return "", false
	}
	return v, true
}

func setField(field reflect.Value, raw string) error {
	if u, ok := field.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(raw))
	}
	if field.Type() == reflect.TypeOf(Duration(0)) {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		field.SetInt(int64(d))
		return nil
	}
	switch field.Kind() {
	case reflect.String:
		field.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		field.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
		}
		field.SetInt(n)
	case reflect.Slice:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		field.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported kind %s", field.Kind())
	}
	return nil
}

// Validate checks the values that would otherwise fail late.
func (c Config) Validate() error {
	var errs []error
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("http_addr is empty"))
	}
	if c.MySQLDSN == "" {
		errs = append(errs, errors.New("mysql_dsn is empty"))
	}
	if c.RedisAddr == "" {
		errs = append(errs, errors.New("redis_addr is empty"))
	}
	errs = append(errs, c.secretProblems()...)
	if c.BcryptCost < 4 || c.BcryptCost > 31 {
		errs = append(errs, fmt.Errorf("bcrypt_cost %d: between 4 and 31", c.BcryptCost))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("log_format %q: json or text", c.LogFormat))
	}
	if c.TokenTTL <= 0 || c.ShutdownTimeout <= 0 || c.RequestTimeout <= 0 || c.SweepInterval <= 0 {
		errs = append(errs, errors.New("token_ttl, shutdown_timeout, request_timeout and sweep_interval must be positive"))
	}
	if c.PaymentValidity <= 0 || c.SagaStuckAfter <= 0 || c.OutboxInterval <= 0 || c.KakaoTimeout <= 0 {
		errs = append(errs, errors.New("payment_validity, saga_stuck_after, outbox_interval and kakao_timeout must be positive"))
	}
	if c.OrderAdmission < 0 {
		errs = append(errs, fmt.Errorf("order_admission %d: 0 (no bound) or more", c.OrderAdmission))
	}
	if c.DealLimit < 1 {
		errs = append(errs, fmt.Errorf("deal_limit %d: at least 1", c.DealLimit))
	}
	if err := c.MarkdownLadder.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("markdown_ladder: %w", err))
	}
	return errors.Join(errs...)
}

// decodeYAML sets the keys data names, each decoded into its field's type
// at once; an unknown key or a value that does not parse is an error that
// names the key.
func decodeYAML(data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil // an empty file stands for "all defaults"
	}
	return decodeMapping(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
}

func decodeMapping(m *yaml.Node, v reflect.Value, prefix string) error {
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %swant a mapping of keys", m.Line, prefix)
	}
	fields := map[string]reflect.Value{}
	for i := 0; i < v.NumField(); i++ {
		fields[v.Type().Field(i).Tag.Get("yaml")] = v.Field(i)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i].Value, m.Content[i+1]
		field, ok := fields[key]
		if !ok {
			return fmt.Errorf("line %d: unknown key %s%s", m.Content[i].Line, prefix, key)
		}
		if field.Kind() == reflect.Struct {
			if err := decodeMapping(val, field, prefix+key+"."); err != nil {
				return err
			}
			continue
		}
		if err := val.Decode(field.Addr().Interface()); err != nil {
			return fmt.Errorf("%s%s: %w", prefix, key, err)
		}
	}
	return nil
}
