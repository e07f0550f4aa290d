import Foundation
import InferenceEngine

/// Locates the ONNX fixtures in `Tests/fixtures/models` (copied into the repository) and reads fixture files.
enum Fixtures {
    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static var sharedModels: URL { repoRoot.appendingPathComponent("Tests/fixtures/models") }

    /// Model directories that have model.onnx, inputs.json and expected.json.
    static func modelNames(in dir: URL = sharedModels) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { name in
            ["model.onnx", "inputs.json", "expected.json"].allSatisfy {
                FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).appendingPathComponent($0).path)
            }
        }.sorted()
    }

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

    /// Expected outputs: name → (dtype, shape, flat data as Any).
    struct Expected {
        var name: String
        var dtype: String
        var data: [Any]
    }

    static func expected(_ url: URL) throws -> [Expected] {
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return (obj["outputs"] as! [[String: Any]]).map { o in
            var flat: [Any] = []
            func walk(_ v: Any) { if let l = v as? [Any] { l.forEach(walk) } else { flat.append(v) } }
            walk(o["data"]!)
            return Expected(name: o["name"] as! String, dtype: o["dtype"] as! String, data: flat)
        }
    }
}

/// Compares engine outputs with onnxruntime's: labels exactly, floats within `tol` absolute (or relative for
/// large magnitudes). Returns a list of mismatch descriptions (empty when all match).
func compare(
    _ got: [(name: String, value: Tensor)], _ expected: [Fixtures.Expected], rowOffset: Int = 0, rows: Int? = nil,
    tol: Float = 1e-5
) -> [String] {
    var problems: [String] = []
    for e in expected {
        guard let t = got.first(where: { $0.name == e.name })?.value else {
            problems.append("missing output \(e.name)")
            continue
        }
        let perRow = rows.map { e.data.count / max(1, $0) } ?? 0
        func expectedSlice() -> ArraySlice<Any> {
            guard let rows else { return e.data[...] }
            let _ = rows
            return e.data[(rowOffset * perRow)..<((rowOffset + t.shape.first!) * perRow)]
        }
        let exp = Array(expectedSlice())
        func close(_ a: Float, _ b: Float) -> Bool {
            if a.isNaN && b.isNaN { return true }
            return abs(a - b) <= tol * max(1, abs(b))
        }
        switch t.values {
        case .int64(let v):
            let want = exp.map { ($0 as! NSNumber).int64Value }
            if v != want {
                problems.append(
                    "\(e.name): labels differ at \(zip(v, want).enumerated().filter { $0.element.0 != $0.element.1 }.prefix(5).map(\.offset))"
                )
            }
        case .string(let v):
            let want = exp.map { $0 as! String }
            if v != want { problems.append("\(e.name): string labels differ") }
        case .float(let v):
            let want = exp.map { Float(($0 as! NSNumber).doubleValue) }
            if v.count != want.count {
                problems.append("\(e.name): \(v.count) values, expected \(want.count)"); continue
            }
            let bad = zip(v, want).enumerated().filter { !close($0.element.0, $0.element.1) }
            if !bad.isEmpty {
                problems.append("\(e.name): \(bad.count) values differ, first at \(bad[0].offset): \(bad[0].element)")
            }
        case .double(let v):
            let want = exp.map { Float(($0 as! NSNumber).doubleValue) }
            let bad = zip(v.map(Float.init), want).filter { !close($0.0, $0.1) }
            if !bad.isEmpty || v.count != want.count { problems.append("\(e.name): \(bad.count) values differ") }
        case .maps(let keys, let values):
            let c = keys.count
            for (r, m) in exp.enumerated() {
                let dict = m as! [String: Any]
                for j in 0..<c {
                    let key: String
                    switch keys {
                    case .int64(let k): key = String(k[j])
                    case .string(let k): key = k[j]
                    }
                    guard let w = dict[key] as? NSNumber else {
                        problems.append("\(e.name): row \(r) lacks key \(key)"); break
                    }
                    if !close(values[r * c + j], Float(w.doubleValue)) {
                        problems.append("\(e.name): row \(r) key \(key): \(values[r * c + j]) vs \(w)")
                        break
                    }
                }
                if problems.count > 5 { break }
            }
        case .bool(let v):
            let want = exp.map { ($0 as! NSNumber).boolValue }
            if v != want { problems.append("\(e.name): bools differ") }
        }
    }
    return problems
}

/// Slices rows [start, start+count) out of batch feeds.
func sliceRows(_ feeds: [String: Tensor], _ start: Int, _ count: Int) -> [String: Tensor] {
    var out: [String: Tensor] = [:]
    for (name, t) in feeds {
        let rows = t.shape.first ?? 1
        let per = rows == 0 ? 0 : t.elementCount / rows
        var shape = t.shape
        shape[0] = count
        let r = (start * per)..<((start + count) * per)
        switch t.values {
        case .float(let v): out[name] = Tensor(shape: shape, values: .float(Array(v[r])))
        case .double(let v): out[name] = Tensor(shape: shape, values: .double(Array(v[r])))
        case .int64(let v): out[name] = Tensor(shape: shape, values: .int64(Array(v[r])))
        case .bool(let v): out[name] = Tensor(shape: shape, values: .bool(Array(v[r])))
        case .string(let v): out[name] = Tensor(shape: shape, values: .string(Array(v[r])))
        case .maps: break
        }
    }
    return out
}
