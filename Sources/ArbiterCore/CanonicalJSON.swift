import Foundation

/// JSON encoding with sorted keys and stable layout, so that the same value always gives the
/// same bytes (bundles are checksummed and must regenerate identically).
public enum CanonicalJSON {
  /// Encodes a value as pretty-printed JSON with sorted keys and unescaped slashes, ending in a newline; rethrows the
  /// encoder's error.
  public static func encode<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    var data = try encoder.encode(value)
    data.append(0x0a)
    return data
  }

  /// Decodes, turning Foundation's error into one that names the file and the field.
  public static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws(ArbiterError) -> T {
    do {
      return try JSONDecoder().decode(type, from: data)
    } catch let error as DecodingError {
      throw ArbiterError(.dataCorrupted, "\(file): \(describe(error))")
    } catch {
      throw ArbiterError(.dataCorrupted, "\(file): \(error)")
    }
  }

  /// A one-line account of a decoding error with the path of the field, e.g. `offers[3].value`.
  public static func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
      var text = ""
      for key in keys {
        if let index = key.intValue {
          text += "[\(index)]"
        } else {
          text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
        }
      }
      return text.isEmpty ? "top level" : text
    }
    switch error {
    case .keyNotFound(let key, let context):
      return "missing field '\(path(context.codingPath + [key]))'"
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
      return "field '\(path(context.codingPath))': \(context.debugDescription)"
    case .dataCorrupted(let context):
      let underlying = context.underlyingError.map { " (\($0))" } ?? ""
      return "field '\(path(context.codingPath))': \(context.debugDescription)\(underlying)"
    @unknown default:
      return "\(error)"
    }
  }
}
