import ServerMetrics
import Testing

@Suite("MetricsRegistry")
struct MetricsRegistryTests {
    @Test func rendersPrometheusText() {
        let registry = MetricsRegistry()
        let requests = registry.counter("sluice_requests_total", help: "Requests.", labels: ["rpc", "code"])
        requests.labels(["Predict", "OK"]).increment(by: 3)
        let latency = registry.histogram(
            "sluice_latency_seconds", help: "Latency.", labels: ["rpc"], bounds: [1_000, 1_000_000])
        let series = latency.labels(["Predict"])
        series.record(500)
        series.record(2_000)
        series.record(5_000_000_000)
        let text = registry.render()
        #expect(text.contains("# TYPE sluice_requests_total counter\n"))
        #expect(text.contains("sluice_requests_total{rpc=\"Predict\",code=\"OK\"} 3\n"))
        #expect(text.contains("sluice_latency_seconds_bucket{rpc=\"Predict\",le=\"0.000001\"} 1\n")
            || text.contains("sluice_latency_seconds_bucket{rpc=\"Predict\",le=\"1e-06\"} 1\n"))
        #expect(text.contains("sluice_latency_seconds_bucket{rpc=\"Predict\",le=\"0.001\"} 2\n"))
        #expect(text.contains("sluice_latency_seconds_bucket{rpc=\"Predict\",le=\"+Inf\"} 3\n"))
        #expect(text.contains("sluice_latency_seconds_count{rpc=\"Predict\"} 3\n"))
    }

    @Test func escapesLabelValues() {
        let registry = MetricsRegistry()
        registry.gauge("g", help: "h", labels: ["model"]).labels(["a\"b\\c"]).set(1.5)
        #expect(registry.render().contains("g{model=\"a\\\"b\\\\c\"} 1.5\n"))
    }

    @Test func histogramQuantiles() {
        let histogram = Histogram(bounds: [10, 20, 30], unitScale: 1)
        for value in [5, 15, 15, 25] as [UInt64] { histogram.record(value) }
        #expect(histogram.quantile(0.5) == 20)
        #expect(histogram.quantile(0.99) == 30)
    }
}
