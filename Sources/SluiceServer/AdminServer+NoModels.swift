extension AdminServer {
    /// The admin listener of a server started without a model source: `/metrics` is empty, `/healthz` answers
    /// 200 and `/readyz` 503, both saying that no model registry was configured.
    public static func startWithoutModels(listen: String) throws(ConfigurationError) -> AdminServer {
        let (host, port) = try parseListen(listen)
        let server = AdminServer(
            handlers: .init(
                metrics: { "" }, ready: { false }, details: InferenceUnavailableService.reason))
        do { try server.start(host: host, port: port) } catch { throw ConfigurationError("\(error)") }
        return server
    }

    /// Splits `HOST:PORT` for `--admin-listen`.
    static func parseListen(_ listen: String) throws(ConfigurationError) -> (host: String, port: UInt16) {
        let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]) else {
            throw ConfigurationError("--admin-listen '\(listen)': expected HOST:PORT, e.g. 127.0.0.1:9090")
        }
        return (String(parts[0]), port)
    }
}
