package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shelflife_http_requests_total",
			Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shelflife_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe counts a request. Labels are kept by the registry for good, so
// none may point into Fiber's request memory, which the next request
// reuses: the method becomes one of a fixed set of constants and the route
// is the registered pattern (copied), never the raw path.
func (m *httpMetrics) observe(method, route string, status int, d time.Duration) {
	method, route = methodLabel(method), strings.Clone(route)
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

// methodLabel maps a request method to a constant; anything unusual is
// OTHER, so a client cannot grow the label set.
func methodLabel(m string) string {
	switch m {
	case fiber.MethodGet:
		return "GET"
	case fiber.MethodHead:
		return "HEAD"
	case fiber.MethodPost:
		return "POST"
	case fiber.MethodPut:
		return "PUT"
	case fiber.MethodPatch:
		return "PATCH"
	case fiber.MethodDelete:
		return "DELETE"
	case fiber.MethodOptions:
		return "OPTIONS"
	}
	return "OTHER"
}

func (s *Server) serveMetrics(c *fiber.Ctx) error {
	h := promhttp.HandlerFor(s.deps.Metrics, promhttp.HandlerOpts{})
	return adaptor.HTTPHandler(h)(c)
}
