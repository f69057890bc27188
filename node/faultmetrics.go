package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"shelflife/events"
	"shelflife/kafkabus"
	"shelflife/persistence/mysqlstore"
)

// registerFaultMetrics exposes what a dependency fault shows in the
// metrics: statements retried, calls refused at once while MySQL was away,
// and how far the outbox relay is behind (see README "Faults").
func registerFaultMetrics(reg prometheus.Registerer, store *mysqlstore.Store, relay *events.Relay, bus *kafkabus.Bus) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shelflife_mysql_retries_total",
			Help: "Deadlocks and lock wait timeouts met by MySQL statements, each run again (up to five times in all)."},
			func() float64 { return float64(store.Retries()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shelflife_mysql_unavailable_total",
			Help: "MySQL calls that failed at once, answered as unavailable (503), because the server was down, cut off or read-only."},
			func() float64 { return float64(store.FastFailures()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shelflife_outbox_relay_failures_total",
			Help: "Outbox relay runs that left messages unpublished (Kafka or MySQL away); each is retried at the next run."},
			func() float64 { return float64(relay.Failures()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shelflife_outbox_lag_seconds",
			Help: "How long the outbox has held messages the relay could not publish, or the publish in hand has waited (a silent broker); 0 when the last run emptied it."},
			func() float64 { return relay.Lag().Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shelflife_kafka_resubscribed_total",
			Help: "Kafka partition consumers started again after a replaced broker lost their offsets."},
			func() float64 { return float64(bus.Resubscribed()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shelflife_kafka_producer_renewals_total",
			Help: "Kafka producers replaced because their circuit breaker kept refusing sends (it stays open 10 s, also after the broker is back)."},
			func() float64 { return float64(bus.ProducerRenewals()) }),
	)
}
