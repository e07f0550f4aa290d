import GRPCCore
import TextFormats

/// `POST /v2/models/{name}[/versions/{v}]/infer`: JSON tensors (KServe v2) and Triton's binary-tensor extension.
///
/// Request: with an `Inference-Header-Content-Length: N` header, the first N bytes are the JSON header and the
/// rest holds the binary inputs, one after another in input order, each input naming its byte count in
/// `parameters.binary_data_size`. Without it the body is all JSON and every input carries `data`: a flat or
/// nested array of numbers (booleans for BOOL, strings for BYTES) in row-major order.
///
/// Response: an output asked for with `parameters.binary_data: true` (or every output, when the request's
/// `parameters.binary_data_output` is true and names no outputs) is sent as raw bytes after the JSON, with
/// `parameters.binary_data_size`; the response then carries `Inference-Header-Content-Length`.
extension OpenInferenceREST {
    func infer(
        model: String, version: String, body: [UInt8], context: CallContext, header: (String) -> String?
    ) throws(ServiceError) -> Response {
        var jsonEnd = body.count
        if let declared = header("inference-header-content-length") {
            guard let length = Int(declared), length >= 0, length <= body.count else {
                throw ServiceError.invalidArgument(
                    "Inference-Header-Content-Length \(declared) must be an integer between 0 and the body size \(body.count)")
            }
            jsonEnd = length
        }
        let root: JSONValue
        do {
            root = try JSONParser.parse(jsonEnd == body.count ? body : Array(body[0..<jsonEnd]))
        } catch {
            throw ServiceError.invalidArgument("the inference request is not valid JSON: \(error)")
        }
        guard case .object = root else { throw ServiceError.invalidArgument("the inference request must be a JSON object") }
        guard case .array(let inputList)? = root["inputs"] else {
            throw ServiceError.invalidArgument("the inference request needs \"inputs\": an array of tensors")
        }
        var binaryOffset = jsonEnd
        var inputs: [OpenInference.OwnedRequest.Input] = []
        inputs.reserveCapacity(inputList.count)
        for (index, input) in inputList.enumerated() {
            inputs.append(try Self.decodeInput(input, index: index, body: body, binaryOffset: &binaryOffset))
        }
        if binaryOffset != body.count {
            throw ServiceError.invalidArgument(
                "the body has \(body.count - binaryOffset) bytes of binary data that no input claims with binary_data_size")
        }
        let binaryDefault = Self.boolParameter(root["parameters"], "binary_data_output") ?? false
        var requested: [String] = []
        var binaryOutputs: Set<String> = []
        if case .array(let outputList)? = root["outputs"] {
            for output in outputList {
                guard let name = output["name"]?.stringValue else {
                    throw ServiceError.invalidArgument("every entry of \"outputs\" needs a \"name\"")
                }
                requested.append(name)
                if Self.boolParameter(output["parameters"], "binary_data") ?? binaryDefault { binaryOutputs.insert(name) }
            }
        }
        let id = root["id"]?.stringValue ?? ""
        let request = OpenInference.OwnedRequest(
            model: model, version: version, id: id, inputs: inputs, outputs: requested)
        return try api.openInferenceInfer(request, context: context) { response in
            Self.encode(response, id: id, binary: { requested.isEmpty ? binaryDefault : binaryOutputs.contains($0) })
        }
    }

    /// One input tensor from its JSON (and, for binary inputs, its bytes from the body).
    private static func decodeInput(
        _ value: JSONValue, index: Int, body: [UInt8], binaryOffset: inout Int
    ) throws(ServiceError) -> OpenInference.OwnedRequest.Input {
        guard let name = value["name"]?.stringValue else {
            throw ServiceError.invalidArgument("input \(index) needs a \"name\"")
        }
        guard let typeName = value["datatype"]?.stringValue, let datatype = OpenInference.DataType(name: typeName)
        else {
            throw ServiceError.invalidArgument(
                "input \"\(name)\" needs a \"datatype\" (BOOL, INT8..INT64, UINT8..UINT64, FP32, FP64 or BYTES)")
        }
        guard case .array(let dims)? = value["shape"] else {
            throw ServiceError.invalidArgument("input \"\(name)\" needs a \"shape\": an array of dimensions")
        }
        var shape: [Int64] = []
        var count: Int64 = 1
        for dim in dims {
            guard let number = dim.numberValue, number >= 0, number <= 1e12, number.rounded() == number else {
                throw ServiceError.invalidArgument("input \"\(name)\": shape entries must be non-negative integers")
            }
            shape.append(Int64(number))
            count = count.multipliedReportingOverflow(by: Int64(number)).overflow ? .max : count * Int64(number)
        }
        if let size = value["parameters"]?["binary_data_size"] {
            guard let number = size.numberValue, number >= 0, number.rounded() == number,
                Int(number) <= body.count - binaryOffset
            else {
                throw ServiceError.invalidArgument(
                    "input \"\(name)\": binary_data_size must be a byte count within the \(body.count - binaryOffset) binary bytes left")
            }
            let bytes = Array(body[binaryOffset..<(binaryOffset + Int(number))])
            binaryOffset += Int(number)
            return .init(name: name, datatype: typeName, shape: shape, data: bytes)
        }
        guard let data = value["data"] else {
            throw ServiceError.invalidArgument("input \"\(name)\" needs \"data\" (or binary_data_size with binary data)")
        }
        var elements: [JSONValue] = []
        flatten(data, into: &elements)
        guard Int64(elements.count) == count else {
            throw ServiceError.invalidArgument(
                "input \"\(name)\": shape \(shape) holds \(count) elements but data has \(elements.count)")
        }
        return .init(name: name, datatype: typeName, shape: shape, data: try encode(elements, as: datatype, input: name))
    }

    /// Nested arrays, row-major, as one flat list.
    private static func flatten(_ value: JSONValue, into elements: inout [JSONValue]) {
        if case .array(let items) = value {
            for item in items { flatten(item, into: &elements) }
        } else {
            elements.append(value)
        }
    }

    /// JSON elements as the protocol's raw little-endian bytes (BYTES: 4-byte length prefixes).
    private static func encode(_ elements: [JSONValue], as datatype: OpenInference.DataType, input: String)
        throws(ServiceError) -> [UInt8]
    {
        var out: [UInt8] = []
        out.reserveCapacity(elements.count * (datatype.elementSize ?? 8))
        for (position, element) in elements.enumerated() {
            func bad(_ expected: String) -> ServiceError {
                ServiceError.invalidArgument(
                    "input \"\(input)\" element \(position): expected \(expected) for \(datatype.name)")
            }
            switch datatype {
            case .bytes:
                guard case .string(let text) = element else { throw bad("a string") }
                let utf8 = Array(text.utf8)
                append(UInt32(utf8.count), to: &out)
                out += utf8
            case .bool:
                switch element {
                case .bool(let flag): out.append(flag ? 1 : 0)
                case .number(let number) where number == 0 || number == 1: out.append(number == 1 ? 1 : 0)
                default: throw bad("true or false")
                }
            case .fp32:
                guard let number = element.numberValue else { throw bad("a number") }
                append(Float(number).bitPattern, to: &out)
            case .fp64:
                guard let number = element.numberValue else { throw bad("a number") }
                append(number.bitPattern, to: &out)
            case .fp16, .bf16:
                throw ServiceError.invalidArgument(
                    "input \"\(input)\": \(datatype.name) is accepted only as binary data (binary_data_size)")
            default:
                guard let number = element.numberValue, number.rounded() == number else { throw bad("an integer") }
                guard let bytes = integerBytes(number, datatype) else { throw bad("an integer in range") }
                out += bytes
            }
        }
        return out
    }

    /// An integral JSON number as a fixed-size little-endian integer of `datatype`, or nil when out of range.
    private static func integerBytes(_ number: Double, _ datatype: OpenInference.DataType) -> [UInt8]? {
        var out: [UInt8] = []
        switch datatype {
        case .int8: guard let v = Int8(exactly: number) else { return nil }; append(UInt8(bitPattern: v), to: &out)
        case .int16: guard let v = Int16(exactly: number) else { return nil }; append(UInt16(bitPattern: v), to: &out)
        case .int32: guard let v = Int32(exactly: number) else { return nil }; append(UInt32(bitPattern: v), to: &out)
        case .int64: guard let v = Int64(exactly: number) else { return nil }; append(UInt64(bitPattern: v), to: &out)
        case .uint8: guard let v = UInt8(exactly: number) else { return nil }; out.append(v)
        case .uint16: guard let v = UInt16(exactly: number) else { return nil }; append(v, to: &out)
        case .uint32: guard let v = UInt32(exactly: number) else { return nil }; append(v, to: &out)
        case .uint64: guard let v = UInt64(exactly: number) else { return nil }; append(v, to: &out)
        default: return nil
        }
        return out
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func boolParameter(_ parameters: JSONValue?, _ name: String) -> Bool? {
        guard case .bool(let flag)? = parameters?[name] else { return nil }
        return flag
    }

    // MARK: - Response

    /// The response JSON, with the binary outputs after it when any were asked for.
    private static func encode(
        _ response: OpenInference.Response, id: String, binary: (String) -> Bool
    ) -> Response {
        var json = JSONWriter(capacity: 512)
        var tail: [UInt8] = []
        json.object {
            $0.key("model_name"); $0.string(response.model)
            $0.key("model_version"); $0.string(String(response.version))
            if !id.isEmpty {
                $0.key("id"); $0.string(id)
            }
            $0.key("outputs"); $0.array(response.outputs) { json, output in
                json.object {
                    $0.key("name"); $0.string(output.name)
                    $0.key("datatype"); $0.string(output.datatype.name)
                    $0.key("shape"); $0.array(output.shape.dimensions) { $0.integer($1) }
                    if binary(output.name) {
                        $0.key("parameters")
                        $0.object {
                            $0.key("binary_data_size"); $0.integer(Int64(output.data.count))
                        }
                        tail.append(contentsOf: output.data)
                    } else {
                        $0.key("data")
                        writeData(&$0, output)
                    }
                }
            }
        }
        if tail.isEmpty { return Self.json(200, json.bytes) }
        let headerLength = json.bytes.count
        return Response(
            status: 200, contentType: "application/octet-stream",
            headers: [("Inference-Header-Content-Length", String(headerLength))], body: json.bytes + tail)
    }

    /// An output's elements as a flat JSON array.
    private static func writeData(_ json: inout JSONWriter, _ output: OpenInference.OutputTensor) {
        let data = output.data
        switch output.datatype {
        case .bytes:
            var elements: [UnsafeRawBufferPointer] = []
            var offset = 0
            while offset + 4 <= data.count {
                let length = Int(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                offset += 4
                guard offset + length <= data.count else { break }
                elements.append(UnsafeRawBufferPointer(rebasing: data[offset..<(offset + length)]))
                offset += length
            }
            json.array(elements) { $0.string(utf8: $1) }
        case .fp32:
            json.array(stride(from: 0, to: data.count - 3, by: 4)) {
                $0.number(Float(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: $1, as: UInt32.self))))
            }
        case .fp64:
            json.array(stride(from: 0, to: data.count - 7, by: 8)) {
                $0.number(Double(bitPattern: UInt64(littleEndian: data.loadUnaligned(fromByteOffset: $1, as: UInt64.self))))
            }
        case .int64:
            json.array(stride(from: 0, to: data.count - 7, by: 8)) {
                $0.integer(Int64(littleEndian: data.loadUnaligned(fromByteOffset: $1, as: Int64.self)))
            }
        case .int32:
            json.array(stride(from: 0, to: data.count - 3, by: 4)) {
                $0.integer(Int64(Int32(littleEndian: data.loadUnaligned(fromByteOffset: $1, as: Int32.self))))
            }
        case .bool:
            json.array(data) { $0.bool($1 != 0) }
        default:
            // The engine's outputs are labels (INT64 or BYTES) and scores (FP32); other types do not occur, but
            // would still be answered truthfully as their raw bytes.
            json.array(data) { $0.integer(Int64($1)) }
        }
    }
}
