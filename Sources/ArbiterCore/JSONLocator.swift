import Foundation

/// Finds the line of a field in a JSON text by its path (`offers[3].eligibility`), so that
/// validation errors can say where in the file the problem is. (Foundation's JSON decoder
/// reports a coding path but no line.)
public enum JSONLocator {
  /// The 1-based line where the value at `path` starts, or nil.
  public static func line(of path: String, in data: Data) -> Int? {
    let bytes = [UInt8](data)
    var i = 0, line = 1
    var found: Int?

    func skipSpace() {
      while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 {
        if bytes[i] == 0x0A { line += 1 }
        i += 1
      }
    }
    func readString() -> String {
      i += 1
      var start = i
      var text = [UInt8]()
      while i < bytes.count, bytes[i] != 0x22 {
        if bytes[i] == 0x5C { text += bytes[start..<i]; i += 2; start = i; continue }
        i += 1
      }
      text += bytes[start..<min(i, bytes.count)]
      i += 1
      return String(decoding: text, as: UTF8.self)
    }
    func value(_ at: String, depth: Int) {
      skipSpace()
      guard found == nil, i < bytes.count, depth < 200 else { return }
      if at == path { found = line; return }
      switch bytes[i] {
      case 0x7B:  // {
        i += 1
        while true {
          skipSpace()
          guard i < bytes.count, bytes[i] != 0x7D else { i += 1; return }
          guard bytes[i] == 0x22 else { i = bytes.count; return }
          let key = readString()
          skipSpace()
          i += 1  // :
          value(at.isEmpty ? key : "\(at).\(key)", depth: depth + 1)
          if found != nil { return }
          skipSpace()
          if i < bytes.count, bytes[i] == 0x2C { i += 1 }
        }
      case 0x5B:  // [
        i += 1
        var index = 0
        while true {
          skipSpace()
          guard i < bytes.count, bytes[i] != 0x5D else { i += 1; return }
          value("\(at)[\(index)]", depth: depth + 1)
          if found != nil { return }
          index += 1
          skipSpace()
          if i < bytes.count, bytes[i] == 0x2C { i += 1 }
        }
      case 0x22: _ = readString()
      default:
        while i < bytes.count, ![0x2C, 0x7D, 0x5D, 0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
      }
    }
    value("", depth: 0)
    return found
  }

  /// "file line N, path" when the file can be read and the path found, else "file: path".
  public static func describe(file: String, path: String) -> String {
    guard let data = FileManager.default.contents(atPath: file) else { return "\(file): \(path)" }
    // The innermost path that exists (an error may name a field the file omits).
    var candidate = path
    while !candidate.isEmpty {
      if let line = line(of: candidate, in: data) { return "\(file) line \(line), \(path)" }
      guard let cut = candidate.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
      candidate = String(candidate[..<cut])
    }
    return "\(file): \(path)"
  }
}
