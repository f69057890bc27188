// Package config is a node's configuration: the keys, their defaults, and
// Load, which decodes the YAML file and then the SHELFLIFE_ environment
// once into typed values (durations, the markdown ladder, the deal-limit
// policy) and validates them, so that a bad value fails at start with the
// key's name and nothing downstream parses or defaults again.
package config

import (
	"errors"
	"fmt"
	"os"
	"time"

	"shelflife/domain"
)

// Cluster says how this node joins the actor cluster.
type Cluster struct {
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
	// CheckInterval (automanaged) and EtcdLeaseTTL (etcd) are how soon the
	// provider drops a dead member, and how easily a busy live one: see
	// member.Config for the trade-off. 0: the defaults, 500ms and 2s.
	CheckInterval Duration `yaml:"check_interval"`
	EtcdLeaseTTL  Duration `yaml:"etcd_lease_ttl"`
}

// Node is a node's whole configuration. Every key can be set in the YAML
// file and overridden by the environment variable SHELFLIFE_<KEY> (nested
// keys joined by _, e.g. SHELFLIFE_CLUSTER_PORT).
type Node struct {
	HTTPAddr          string        `yaml:"http_addr"`
	MySQLDSN          string        `yaml:"mysql_dsn"`
	MySQLMaxConns     int           `yaml:"mysql_max_conns"`
	RedisAddr         string        `yaml:"redis_addr"`
	RedisPrefix       string        `yaml:"redis_prefix"`
	KafkaBrokers      []string      `yaml:"kafka_brokers"`
	KafkaEmbeddedPort int           `yaml:"kafka_embedded_port"`
	Demo              bool          `yaml:"demo"`
	JWTSecret         string        `yaml:"jwt_secret"`
	TokenTTL          Duration      `yaml:"token_ttl"`
	BcryptCost        int           `yaml:"bcrypt_cost"`
	AdminEmail        string        `yaml:"admin_email"`
	AdminPassword     string        `yaml:"admin_password"`
	LogLevel          string        `yaml:"log_level"`
	LogFormat         string        `yaml:"log_format"`  // auto (text on a terminal, else JSON), json or text
	RequestLog        bool          `yaml:"request_log"` // a line per request (5xx always)
	ShutdownTimeout   Duration      `yaml:"shutdown_timeout"`
	RequestTimeout    Duration      `yaml:"request_timeout"`
	BodyLimitBytes    int           `yaml:"body_limit_bytes"`
	MarkdownLadder    domain.Ladder `yaml:"markdown_ladder"`
	// Markdown is how closing-soon lots are priced: ladder (by the time
	// left) or adaptive (by the time left and the lot's sell rate, from
	// MarkdownSteps, never below the ladder). See domain/markdown.go.
	Markdown      domain.MarkdownMode  `yaml:"markdown"`
	MarkdownSteps domain.MarkdownSteps `yaml:"markdown_steps"`
	SweepInterval Duration             `yaml:"sweep_interval"`
	// LotSweepInterval is how often lots past their moment with no grain
	// on this node are moved (in batches, set-based): a lot moves at most
	// about this long after its moment.
	LotSweepInterval Duration `yaml:"lot_sweep_interval"`
	// LotSweepWorkers is how many of the sweep's transactions (500 lots
	// each) run at once: MySQL's cores it may take from checkouts in an
	// expiry storm.
	LotSweepWorkers int `yaml:"lot_sweep_workers"`
	// ReadModelRefresh is how often the read model reads the lots again
	// from MySQL and takes what it missed (an event dropped while Kafka
	// was away); 0 only at start.
	ReadModelRefresh Duration `yaml:"read_model_refresh"`
	PublicURL        string   `yaml:"public_url"`
	KakaoBaseURL     string   `yaml:"kakao_base_url"`
	KakaoSecretKey   string   `yaml:"kakao_secret_key"`
	KakaoCID         string   `yaml:"kakao_cid"`
	KakaoTimeout     Duration `yaml:"kakao_timeout"`
	KakaoFakeAddr    string   `yaml:"kakao_fake_addr"`
	PaymentValidity  Duration `yaml:"payment_validity"`
	// DealHold is how long a closing-soon deal line is held for its
	// payer (regular lines: payment_validity).
	DealHold       Duration         `yaml:"deal_hold"`
	DealLimit      domain.DealLimit `yaml:"deal_limit"`
	SagaStuckAfter Duration         `yaml:"saga_stuck_after"`
	OutboxInterval Duration         `yaml:"outbox_interval"`
	// OrderAdmission is how many orders one node places at once; the others
	// wait in line (see admission). 0: no bound.
	OrderAdmission int `yaml:"order_admission"`
	// FaultCrashAfter makes the process kill itself (SIGKILL) right after an
	// order saga reaches this step: HELD (stored with its holds, before
	// the payment is made ready), READY, HOLDS_TAKEN (the payer's callback
	// committed the holds, before the pg_token's write), DEDUCTING and
	// COMMITTED (an order resumed after a lot did not answer, or placed
	// before holds: recorded, then its stock taken), APPROVING or
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
	// KafkaFetchMaxWait and KafkaFlushFrequency tune the event topics'
	// consumers and producer (kafkabus.Config); 0 takes the defaults,
	// chosen for live delivery between nodes.
	KafkaFetchMaxWait   Duration `yaml:"kafka_fetch_max_wait"`
	KafkaFlushFrequency Duration `yaml:"kafka_flush_frequency"`
	// TrustedProxies are the load balancers whose X-Forwarded-For names
	// the client (addresses or CIDRs).
	TrustedProxies []string `yaml:"trusted_proxies"`
	Cluster        Cluster  `yaml:"cluster"`

	// Sign-in and signup limits, per client address and per account (the
	// email), kept in Redis and shared by the nodes; 0 turns one off. See
	// limits.go and the README's Security section.
	LoginPerAddressPerMinute int `yaml:"login_per_address_per_minute"`
	LoginPerAccountPerMinute int `yaml:"login_per_account_per_minute"`
	SignupPerAddressPerHour  int `yaml:"signup_per_address_per_hour"`
	SignupPerAccountPerHour  int `yaml:"signup_per_account_per_hour"`
	// LoginLockoutAfter failed logins lock an account for LoginLockout,
	// doubled at each further failure up to LoginLockoutMax. 0: no lockout.
	LoginLockoutAfter int      `yaml:"login_lockout_after"`
	LoginLockout      Duration `yaml:"login_lockout"`
	LoginLockoutMax   Duration `yaml:"login_lockout_max"`
	// PasswordHashConcurrency bounds the bcrypt hashes run at once; 0: the
	// cores less one, at least 1.
	PasswordHashConcurrency int `yaml:"password_hash_concurrency"`
	// MaxUnpaidOrders is how many orders one shopper may have waiting for
	// payment at once. 0: no bound.
	MaxUnpaidOrders int `yaml:"max_unpaid_orders"`
}

// Defaults work on a developer machine with MariaDB and Redis on 127.0.0.1.
func Defaults() Node {
	return Node{
		HTTPAddr:         "127.0.0.1:8080",
		MySQLDSN:         "root@tcp(127.0.0.1:3306)/shelflife?parseTime=true",
		MySQLMaxConns:    32,
		RedisAddr:        "127.0.0.1:6379",
		RedisPrefix:      "shelflife:",
		TokenTTL:         Duration(24 * time.Hour),
		BcryptCost:       10,
		AdminEmail:       "admin@shelflife.test",
		LogLevel:         "info",
		LogFormat:        "auto",
		RequestLog:       true,
		ShutdownTimeout:  Duration(25 * time.Second),
		RequestTimeout:   Duration(15 * time.Second),
		BodyLimitBytes:   64 << 10,
		MarkdownLadder:   domain.DefaultLadder(),
		Markdown:         domain.LadderMarkdown,
		MarkdownSteps:    domain.DefaultMarkdownSteps(),
		SweepInterval:    Duration(30 * time.Second),
		LotSweepInterval: Duration(5 * time.Second),
		LotSweepWorkers:  2,
		ReadModelRefresh: Duration(5 * time.Minute),
		KakaoSecretKey:   "DEV-shelflife-local",
		KakaoCID:         "TC0ONETIME",
		KakaoTimeout:     Duration(10 * time.Second),
		KakaoFakeAddr:    "127.0.0.1:8090",
		PaymentValidity:  Duration(15 * time.Minute),
		DealHold:         Duration(10 * time.Minute),
		DealLimit:        domain.DefaultDealLimit,
		OrderAdmission:   16,
		WSPerAddress:     64,
		SagaStuckAfter:   Duration(30 * time.Second),
		OutboxInterval:   Duration(200 * time.Millisecond),
		Cluster:          Cluster{Name: "shelflife", Host: "127.0.0.1", Port: 0, Provider: "test"},

		LoginPerAddressPerMinute: 30,
		LoginPerAccountPerMinute: 10,
		SignupPerAddressPerHour:  10,
		SignupPerAccountPerHour:  5,
		LoginLockoutAfter:        5,
		LoginLockout:             Duration(30 * time.Second),
		LoginLockoutMax:          Duration(15 * time.Minute),
		MaxUnpaidOrders:          3,
	}
}

// EnvPrefix starts every environment variable the node reads.
const EnvPrefix = "SHELFLIFE_"

// Load reads the defaults, then the YAML file at path (if path is not
// empty), then the environment through getenv.
func Load(path string, getenv func(string) string) (Node, error) {
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
	if err := applyEnvTo(&cfg, EnvPrefix, getenv); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// EnvNames lists every environment variable the configuration reads.
func EnvNames() []string {
	return envNames(Node{}, EnvPrefix)
}

// Validate checks the values that would otherwise fail late.
func (c Node) Validate() error {
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
	case "auto", "json", "text":
	default:
		errs = append(errs, fmt.Errorf("log_format %q: auto, json or text", c.LogFormat))
	}
	if c.TokenTTL <= 0 || c.ShutdownTimeout <= 0 || c.RequestTimeout <= 0 || c.SweepInterval <= 0 || c.LotSweepInterval <= 0 {
		errs = append(errs, errors.New("token_ttl, shutdown_timeout, request_timeout, sweep_interval and lot_sweep_interval must be positive"))
	}
	if c.PaymentValidity <= 0 || c.DealHold <= 0 || c.SagaStuckAfter <= 0 || c.OutboxInterval <= 0 || c.KakaoTimeout <= 0 {
		errs = append(errs, errors.New("payment_validity, deal_hold, saga_stuck_after, outbox_interval and kakao_timeout must be positive"))
	}
	if c.ReadModelRefresh < 0 {
		errs = append(errs, errors.New("read_model_refresh must not be negative (0: only at start)"))
	}
	if c.LotSweepWorkers < 1 || c.LotSweepWorkers > 32 {
		errs = append(errs, fmt.Errorf("lot_sweep_workers %d: 1 to 32", c.LotSweepWorkers))
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
	if err := c.Markdown.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.MarkdownSteps.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("markdown_steps: %w", err))
	}
	errs = append(errs, c.validateLimits()...)
	return errors.Join(errs...)
}
