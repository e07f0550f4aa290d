public import Synchronization

/// The kinds of metric a family can hold.
public enum MetricKind: String, Sendable {
    case counter, gauge, histogram
}

/// Something a family can render.
public protocol MetricSeries: AnyObject, Sendable {
    /// The `# TYPE` the family is rendered with.
    static var kind: MetricKind { get }
}

extension Counter: MetricSeries {
    public static var kind: MetricKind { .counter }
}

extension Gauge: MetricSeries {
    public static var kind: MetricKind { .gauge }
}

extension Histogram: MetricSeries {
    public static var kind: MetricKind { .histogram }
}

/// A named metric with label dimensions. Looking up a series takes a lock, so hot paths look a
/// series up once and keep the returned object.
public final class MetricFamily<Series: MetricSeries>: Sendable {
    public let name: String
    public let help: String
    public let labelNames: [String]
    private let factory: @Sendable () -> Series
    private let series = Mutex<[[String]: Series]>([:])

    /// Made by ``MetricsRegistry``'s `counter`, `gauge` and `histogram`, which also register the family's renderer.
    init(name: String, help: String, labelNames: [String], factory: @escaping @Sendable () -> Series) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.factory = factory
    }

    /// The series for these label values (in `labelNames` order), created on first use.
    public func labels(_ values: [String]) -> Series {
        series.withLock { table in
            if let existing = table[values] { return existing }
            let created = factory()
            table[values] = created
            return created
        }
    }

    /// Drops a series (e.g. when a model version is retired).
    public func remove(_ values: [String]) { _ = series.withLock { $0.removeValue(forKey: values) } }

    /// Every series with its label values, sorted by the values, so scrapes render in a stable order.
    func snapshot() -> [([String], Series)] {
        series.withLock { table in table.map { ($0.key, $0.value) } }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }
}
