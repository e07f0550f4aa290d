public import Synchronization

/// Owns metric families and renders them in the Prometheus text exposition format (version 0.0.4).
public final class MetricsRegistry: Sendable {
    private let renderers = Mutex<[(name: String, render: @Sendable (inout String) -> Void)]>([])

    public init() {}

    /// Registers a counter family; it is rendered in registration order with the other families.
    ///
    /// Names are not checked for uniqueness: registering a name twice renders it twice.
    public func counter(_ name: String, help: String, labels: [String] = []) -> MetricFamily<Counter> {
        let family = MetricFamily<Counter>(name: name, help: help, labelNames: labels, factory: { Counter() })
        add(family) { out, labelText, counter in
            out += "\(name)\(labelText) \(counter.value)\n"
        }
        return family
    }

    /// Registers a gauge family (values rendered with ``format(_:)``).
    public func gauge(_ name: String, help: String, labels: [String] = []) -> MetricFamily<Gauge> {
        let family = MetricFamily<Gauge>(name: name, help: help, labelNames: labels, factory: { Gauge() })
        add(family) { out, labelText, gauge in
            out += "\(name)\(labelText) \(Self.format(gauge.value))\n"
        }
        return family
    }

    /// Registers a histogram family: each series renders cumulative `_bucket` lines with an `le` label (bounds divided
    /// by `unitScale`), then `_sum` (also divided) and `_count`.
    public func histogram(
        _ name: String, help: String, labels: [String] = [], bounds: [UInt64] = Histogram.latencyBoundsNanos,
        unitScale: Double = 1e9
    ) -> MetricFamily<Histogram> {
        let family = MetricFamily<Histogram>(
            name: name, help: help, labelNames: labels, factory: { Histogram(bounds: bounds, unitScale: unitScale) })
        let renderer: @Sendable (inout String, [String], [String], Histogram) -> Void = { out, names, values, histogram in
            let counts = histogram.bucketCounts
            var cumulative: UInt64 = 0
            for (index, count) in counts.enumerated() {
                cumulative += count
                let le = index < histogram.bounds.count
                    ? Self.format(Double(histogram.bounds[index]) / histogram.unitScale) : "+Inf"
                out += "\(name)_bucket\(Self.labelText(names + ["le"], values + [le])) \(cumulative)\n"
            }
            let plain = Self.labelText(names, values)
            out += "\(name)_sum\(plain) \(Self.format(Double(histogram.sum) / histogram.unitScale))\n"
            out += "\(name)_count\(plain) \(histogram.count)\n"
        }
        renderers.withLock {
            $0.append((name, { out in
                out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
                for (values, histogram) in family.snapshot() { renderer(&out, labels, values, histogram) }
            }))
        }
        return family
    }

    private func add<Series>(_ family: MetricFamily<Series>, line: @escaping @Sendable (inout String, String, Series) -> Void) {
        let name = family.name
        renderers.withLock {
            $0.append((name, { out in
                out += "# HELP \(name) \(family.help)\n# TYPE \(name) \(Series.kind.rawValue)\n"
                for (values, series) in family.snapshot() {
                    line(&out, Self.labelText(family.labelNames, values), series)
                }
            }))
        }
    }

    /// Adds a family rendered by a closure at scrape time (for values that live elsewhere).
    ///
    /// `collect` runs on the scraping thread at every render, outside the registry's lock; it returns each sample's
    /// labels (rendered sorted by name) and value.
    public func collector(_ name: String, help: String, kind: MetricKind, collect: @escaping @Sendable () -> [([String: String], Double)]) {
        renderers.withLock {
            $0.append((name, { out in
                out += "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
                for (labels, value) in collect() {
                    let keys = labels.keys.sorted()
                    out += "\(name)\(Self.labelText(keys, keys.map { labels[$0]! })) \(Self.format(value))\n"
                }
            }))
        }
    }

    /// The whole exposition text.
    public func render() -> String {
        let list = renderers.withLock { $0 }
        var out = ""
        for entry in list { entry.render(&out) }
        return out
    }

    /// `{name="value",...}` for the label pairs (values escaped), or "" without labels; a missing value renders as "".
    static func labelText(_ names: [String], _ values: [String]) -> String {
        guard !names.isEmpty else { return "" }
        var out = "{"
        for (index, name) in names.enumerated() {
            if index > 0 { out += "," }
            out += name + "=\"" + escape(index < values.count ? values[index] : "") + "\""
        }
        return out + "}"
    }

    /// Escapes a label value as the exposition format requires: backslash, double quote and line feed.
    static func escape(_ value: String) -> String {
        var out = ""
        for char in value {
            switch char {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(char)
            }
        }
        return out
    }

    /// A sample value: `NaN`, `+Inf`/`-Inf`, whole numbers without a fraction, others in Swift's shortest form.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
