/// A small RFC 4180 CSV reader (header row, quoted fields with `""` escapes, CRLF or LF).
/// Errors name the line and column.
///
/// Hand-written on purpose: the mirrored CSV packages (SwiftCSV 0.10, CSV.swift 2.5) report a
/// malformed field with no line or column (`CSVParseError.quotation(message:)`,
/// `CSVError.cannotReadHeaderRow`), and every import error here must say where it is. The feature
/// store's 10M-row import has its own zero-copy parser (`CSVImporter`).
public struct CSVTable: Sendable {
  /// The column names from the first row of the file.
  public let header: [String]
  /// The data rows after the header, each with exactly as many fields as the header; blank lines are skipped.
  public let rows: [[String]]
  /// 1-based line in the file of each row, for error messages.
  public let lineNumbers: [Int]

  /// Parses CSV text whose fields are separated by `delimiter` (a comma unless given; see
  /// ``likelyDelimiter(of:)``); `file` is used only in error messages.
  /// Throws `invalidArgument` naming the line and column on a stray quote, text after a closing quote, an unclosed
  /// quote, an empty file or a row whose column count differs from the header's.
  public init(text: String, file: String, delimiter: UInt8 = UInt8(ascii: ",")) throws(ArbiterError) {
    var records: [[String]] = []
    var lines: [Int] = []
    var field = [UInt8]()
    var record: [String] = []
    var inQuotes = false
    var line = 1
    var recordLine = 1
    var afterQuote = false
    let bytes = Array(text.utf8)
    var i = 0
    func endField() { record.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true) }
    while i < bytes.count {
      let byte = bytes[i]
      if inQuotes {
        if byte == UInt8(ascii: "\"") {
          if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\"") {
            field.append(byte); i += 1
          } else {
            inQuotes = false; afterQuote = true
          }
        } else {
          if byte == 0x0a { line += 1 }
          field.append(byte)
        }
      } else if byte == delimiter {
        endField()
        afterQuote = false
      } else {
        switch byte {
        case 0x0d: break
        case 0x0a:
          endField()
          if !(record.count == 1 && record[0].isEmpty) { records.append(record); lines.append(recordLine) }
          record = []
          afterQuote = false
          line += 1
          recordLine = line
        case UInt8(ascii: "\""):
          guard field.isEmpty, !afterQuote else {
            throw ArbiterError(.invalidArgument, "\(file):\(line): stray quote in column \(record.count + 1)")
          }
          inQuotes = true
        default:
          if afterQuote {
            throw ArbiterError(
              .invalidArgument, "\(file):\(line): text after closing quote in column \(record.count + 1)")
          }
          field.append(byte)
        }
      }
      i += 1
    }
    if inQuotes {
      throw ArbiterError(.invalidArgument, "\(file):\(recordLine): quoted field not closed before end of file")
    }
    if !field.isEmpty || !record.isEmpty { endField(); records.append(record); lines.append(recordLine) }
    guard let header = records.first else {
      throw ArbiterError(.invalidArgument, "\(file): empty file, expected a header row")
    }
    for (index, row) in records.enumerated() where row.count != header.count {
      throw ArbiterError(
        .invalidArgument, "\(file):\(lines[index]): \(row.count) columns, the header has \(header.count)")
    }
    self.header = header
    self.rows = Array(records.dropFirst())
    self.lineNumbers = Array(lines.dropFirst())
  }

  /// The delimiter of a delimited text by its first line: whichever of comma, semicolon, tab and
  /// pipe occurs most outside quotes (a comma when none does).
  public static func likelyDelimiter(of text: Substring) -> UInt8 {
    let candidates: [UInt8] = [UInt8(ascii: ","), UInt8(ascii: ";"), 0x09, UInt8(ascii: "|")]
    var counts = [Int](repeating: 0, count: candidates.count)
    var inQuotes = false
    for byte in text.utf8 {
      if byte == 0x0a { break }
      if byte == UInt8(ascii: "\"") { inQuotes.toggle() }
      if !inQuotes, let k = candidates.firstIndex(of: byte) { counts[k] += 1 }
    }
    let best = counts.indices.max { counts[$0] < counts[$1] }!
    return counts[best] == 0 ? candidates[0] : candidates[best]
  }

  /// The index of a header column, or an error naming it.
  public func column(_ name: String, file: String) throws(ArbiterError) -> Int {
    guard let index = header.firstIndex(of: name) else {
      throw ArbiterError(.invalidArgument, "\(file): no column '\(name)' in the header")
    }
    return index
  }
}
