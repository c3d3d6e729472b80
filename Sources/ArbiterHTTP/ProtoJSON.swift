import Foundation
import GRPCCore
import SwiftProtobuf

/// Request and response bodies in protobuf's canonical JSON mapping (swift-protobuf's codec):
/// the wire of the HTTP door, turned into messages once here.
enum ProtoJSON {
  /// Unknown fields are refused, as a typo in a field name would otherwise pass unnoticed.
  static let decodingOptions: JSONDecodingOptions = {
    var options = JSONDecodingOptions()
    options.ignoreUnknownFields = false
    options.messageDepthLimit = 32
    return options
  }()

  /// The message a body holds; an empty body is the message with every field at its default.
  /// Errors are INVALID_ARGUMENT naming the field at fault where it can be found.
  static func decode<M: Message>(_ type: M.Type, from bytes: [UInt8]) throws(HTTPAPIError) -> M {
    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return M() }
    do {
      return try M(jsonUTF8Bytes: bytes, options: decodingOptions)
    } catch let error as JSONDecodingError {
      throw HTTPAPIError(.invalidArgument, describe(error, in: bytes, as: type))
    } catch {
      throw HTTPAPIError(.invalidArgument, "malformed \(M.protoMessageName) JSON: \(error)")
    }
  }

  /// The message as canonical JSON bytes.
  static func encode(_ message: some Message) throws(HTTPAPIError) -> [UInt8] {
    do { return try message.jsonUTF8Bytes() } catch {
      throw HTTPAPIError(.internalError, "cannot encode \(type(of: message).protoMessageName) as JSON: \(error)")
    }
  }

  /// A decoding error in words, with the field it is about: swift-protobuf names only unknown
  /// fields, so for the others each top-level field (and each element of a list) is decoded
  /// alone to find the first that fails.
  static func describe<M: Message>(_ error: JSONDecodingError, in bytes: [UInt8], as type: M.Type) -> String {
    if case .unknownField(let name) = error {
      return "unknown field '\(name)' in \(M.protoMessageName)"
    }
    guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
      return "the body is not JSON (\(phrase(error)))"
    }
    guard let fields = object as? [String: Any] else {
      return "the body must be a JSON object (a \(M.protoMessageName)), not \(kind(of: object))"
    }
    for key in fields.keys.sorted() {
      let value = fields[key]!
      guard let problem = failure(M.self, [key: value]) else { continue }
      if let list = value as? [Any] {
        for (i, element) in list.enumerated() {
          if let inner = failure(M.self, [key: [element]]) { return "\(key)[\(i)]: \(inner)" }
        }
      }
      return "\(key): \(problem)"
    }
    return "malformed \(M.protoMessageName) JSON (\(phrase(error)))"
  }

  /// Why `fields` alone does not decode as `M`, or nil when it does.
  private static func failure<M: Message>(_ type: M.Type, _ fields: [String: Any]) -> String? {
    guard let data = try? JSONSerialization.data(withJSONObject: fields) else { return nil }
    do {
      _ = try M(jsonUTF8Data: data, options: decodingOptions)
      return nil
    } catch let error as JSONDecodingError {
      if case .unknownField(let name) = error { return "unknown field '\(name)'" }
      return phrase(error)
    } catch {
      return "\(error)"
    }
  }

  private static func kind(of value: Any) -> String {
    switch value {
    case is [Any]: return "a list"
    case is String: return "a string"
    case is NSNumber: return "a number"
    case is NSNull: return "null"
    default: return "\(Swift.type(of: value))"
    }
  }

  /// swift-protobuf's error in words.
  static func phrase(_ error: JSONDecodingError) -> String {
    switch error {
    case .malformedNumber: return "not a number of the field's type"
    case .numberRange: return "a number out of the field's range, or not a whole number"
    case .malformedBool: return "not true or false"
    case .malformedString: return "not a string"
    case .invalidUTF8: return "not valid UTF-8"
    case .schemaMismatch: return "a value of the wrong type"
    case .unrecognizedEnumValue: return "not one of the enum's names or numbers"
    case .illegalNull: return "null is not allowed here"
    case .leadingZero: return "a number with a leading zero"
    case .truncated: return "the JSON ends too early"
    case .trailingGarbage: return "text after the JSON value"
    case .messageDepthLimit: return "nested too deeply"
    case .malformedMap, .unquotedMapKey: return "a malformed map"
    case .unknownField(let name): return "unknown field '\(name)'"
    default: return "malformed JSON (\(error))"
    }
  }
}
