import Testing

import TextFormats

@Suite("Strict JSON")
struct JSONValueTests {
    func parse(_ s: String) -> JSONValue? { try? JSONParser.parse(Array(s.utf8)) }

    @Test("types are exact: numbers, booleans and strings stay apart")
    func types() {
        #expect(
            parse(#"{"a":1,"b":true,"c":"1","d":null,"e":[1.5e3]}"#)
                == .object([
                    "a": .number(1), "b": .bool(true), "c": .string("1"), "d": .null, "e": .array([.number(1500)]),
                ]))
        #expect(parse(#""\u00e9\ud83d\ude00\n""#) == .string("é😀\n"))
    }

    @Test(
        "invalid documents are refused",
        arguments: [
            #"{"a":1,"a":2}"#, #"{"a":1} x"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{'a':1}"#, #"{"a":tru}"#,
            #"{"a":"\ud800"}"#, "{\"a\":\"\u{01}\"}", #"{"a":1,}"#, #"[1,]"#, #"{"a":1e999}"#, "", "   ",
            String(repeating: "[", count: 40) + String(repeating: "]", count: 40),
        ])
    func invalid(_ text: String) {
        #expect(parse(text) == nil)
    }

    @Test("invalid UTF-8 inside a string is refused")
    func badUTF8() {
        #expect((try? JSONParser.parse([0x22, 0xC3, 0x28, 0x22])) == nil)
    }
}
