import ArbiterCore
import Foundation

/// The rows: one chunk of lines parsed into customer records, on one thread.
extension CSVImporter {
  /// What parsing one chunk gave.
  struct ParsedChunk: Sendable {
    var records: [CustomerRecord] = []
    /// Each record's line within the chunk.
    var recordLines: [Int] = []
    var lines = 0
    var rejected = 0
    /// (line within the chunk, message without the line)
    var errors: [(Int, String)] = []
  }

  /// One line's customer as parsed so far, or what is wrong with it.
  struct ParsedLine {
    var id: UInt64 = 0
    var name = ""
    var problem: String?
  }

  /// Parses chunks of the mapped file into records; used from several threads at once (it only
  /// reads).
  struct ChunkParser {
    let bytes: UnsafeRawBufferPointer
    let columns: Columns
    let width: Int
    let path: String

    /// Every line of `start..<end` (which ends at a line boundary): a record per good line, a
    /// count and the first messages for bad ones; empty lines count but hold nothing.
    func parse(from start: Int, to end: Int) -> ParsedChunk {
      var parsed = ParsedChunk()
      var position = start
      var values = [Float](repeating: .nan, count: width)
      while position < end {
        parsed.lines += 1
        var lineEnd = position
        while lineEnd < end && bytes[lineEnd] != 0x0a { lineEnd += 1 }
        var contentEnd = lineEnd
        if contentEnd > position && bytes[contentEnd - 1] == 0x0d { contentEnd -= 1 }
        defer { position = lineEnd + 1 }
        if contentEnd == position { continue }
        for f in 0..<width { values[f] = .nan }
        let line = parseFields(from: position, to: contentEnd, values: &values)
        if let problem = line.problem {
          parsed.rejected += 1
          if parsed.errors.count < maxReportedErrors { parsed.errors.append((parsed.lines, problem)) }
          continue
        }
        parsed.records.append(CustomerRecord(id: line.id, displayName: line.name, values: values))
        parsed.recordLines.append(parsed.lines)
      }
      return parsed
    }

    /// One line's fields (`start..<contentEnd`, no line break) into the id, the name and
    /// `values`; the line must have exactly the header's columns and a customer id.
    @inline(__always)
    private func parseFields(from start: Int, to contentEnd: Int, values: inout [Float]) -> ParsedLine {
      var line = ParsedLine()
      var column = 0
      var cursor = start
      let count = columns.names.count
      while cursor <= contentEnd && line.problem == nil {
        guard column < count else { line.problem = "more than the header's \(count) columns"; break }
        if cursor < contentEnd && bytes[cursor] == UInt8(ascii: "\"") {
          cursor = quotedField(at: cursor, end: contentEnd, column: column, line: &line, values: &values)
        } else {
          cursor = plainField(at: cursor, end: contentEnd, column: column, line: &line, values: &values)
        }
        column += 1
      }
      if line.problem == nil && column != count { line.problem = "\(column) columns, the header has \(count)" }
      if line.problem == nil && line.id == 0 { line.problem = "column customer_id: missing" }
      return line
    }

    /// A quoted field (RFC 4180, read through ``CSVImporter/readField(_:from:end:line:path:)``):
    /// the name, the id, or a feature's value, where an empty quoted value is not a number.
    /// Returns the index after its comma.
    @inline(__always)
    private func quotedField(
      at cursor: Int, end contentEnd: Int, column: Int, line: inout ParsedLine, values: inout [Float]
    ) -> Int {
      do {
        let (text, next) = try CSVImporter.readField(bytes, from: cursor, end: contentEnd, line: 0, path: path)
        if column == columns.name {
          line.name = text
        } else if column == columns.id {
          line.id = UInt64(text) ?? 0
        } else if columns.features[column] >= 0 {
          guard let value = Float(text), value.isFinite else {
            line.problem = "column \(columns.names[column]): '\(text)' is not a number"
            return next
          }
          values[columns.features[column]] = value
        }
        return next
      } catch {
        line.problem = "column \(columns.names[column]): \(error.message)"
      }
      return contentEnd + 1
    }

    /// A plain field, up to the next comma: the id (digits, not 0), the name, or a feature's
    /// value (empty: missing). Returns the index after its comma.
    @inline(__always)
    private func plainField(
      at cursor: Int, end contentEnd: Int, column: Int, line: inout ParsedLine, values: inout [Float]
    ) -> Int {
      var fieldEnd = cursor
      while fieldEnd < contentEnd && bytes[fieldEnd] != UInt8(ascii: ",") { fieldEnd += 1 }
      let field = UnsafeRawBufferPointer(rebasing: bytes[cursor..<fieldEnd])
      if column == columns.id {
        guard let parsedId = CSVImporter.parseUInt64(field), parsedId != 0 else {
          line.problem = "column customer_id: '\(String(decoding: field, as: UTF8.self))' is not a customer id"
          return fieldEnd + 1
        }
        line.id = parsedId
      } else if column == columns.name {
        line.name = String(decoding: field, as: UTF8.self)
      } else if columns.features[column] >= 0 && !field.isEmpty {
        guard let value = CSVImporter.parseFloat(field), value.isFinite else {
          line.problem = "column \(columns.names[column]): '\(String(decoding: field, as: UTF8.self))' is not a number"
          return fieldEnd + 1
        }
        values[columns.features[column]] = value
      }
      return fieldEnd + 1
    }
  }
}
