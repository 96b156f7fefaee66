package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's own Prometheus series.
type metrics struct {
	requests *prometheus.CounterVec   // by route and status class
	duration *prometheus.HistogramVec // by route
}

func newMetrics(reg prometheus.Registerer, storeUp func() float64) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyhall_http_requests_total",
			Help: "HTTP requests answered, by route and status class.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyhall_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	up := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keyhall_database_up",
		Help: "1 when the database answered a ping within a second, else 0.",
	}, storeUp)
	for _, c := range []prometheus.Collector{m.requests, m.duration, up} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// MetricsHandler serves the metrics in the Prometheus text format at
// /metrics, for a listener of their own (metrics_listen): on the public
// one, anyone could read how busy each route is.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{ErrorLog: nil}))
	return mux
}
