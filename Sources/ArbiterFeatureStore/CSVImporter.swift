import ArbiterCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What a CSV import did.
public struct CSVImportReport: Sendable, CustomStringConvertible {
  public var rows = 0
  public var inserted = 0
  public var updated = 0
  public var rejected = 0
  /// The first rejections, each naming the line and the column.
  public var errors: [String] = []
  /// Header columns that are not features of the schema (ignored).
  public var ignoredColumns: [String] = []
  public var seconds = 0.0

  public var description: String {
    var text = "\(rows) rows: \(inserted) inserted, \(updated) updated, \(rejected) rejected in \(String(format: "%.1f", seconds)) s"
    if !ignoredColumns.isEmpty { text += "; ignored columns: \(ignoredColumns.joined(separator: ", "))" }
    return text
  }
}

/// Bulk import of customers from CSV as a data warehouse exports it: a header row naming
/// `customer_id`, optionally `display_name`, and feature columns by schema name (any order);
/// RFC 4180 quoting; an empty cell is a missing value. Values are as of the export (days since,
/// flags, trends), checked against the schema's ranges and stored as of `asOfDays` by
/// ``FeatureStore/upsert(_:asOfDays:logged:)``, as UpsertProfiles stores them.
///
/// The file is mapped and parsed in parallel chunks; rows are applied in file order (the last of
/// duplicate ids wins). A bad row is rejected, counted and reported with its line and column;
/// the rest are imported.
public enum CSVImporter {
  public static let maxReportedErrors = 20

  public static func importFile(
    path: String, into store: FeatureStore, asOfDays: Double, logged: Bool = true, threads: Int = 2
  ) throws(ArbiterError) -> CSVImportReport {
    let started = DispatchTime.now().uptimeNanoseconds
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ArbiterError(.notFound, "cannot open '\(path)': \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    fstat(fd, &info)
    let length = Int(info.st_size)
    guard length > 0 else { throw ArbiterError(.invalidArgument, "\(path): empty file, expected a header row") }
    guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), mapped != MAP_FAILED else {
      throw ArbiterError(.failedPrecondition, "cannot map '\(path)'")
    }
    defer { munmap(mapped, length) }
    nonisolated(unsafe) let bytes = UnsafeRawBufferPointer(start: mapped, count: length)

    // Header.
    guard let headerEnd = bytes.firstIndex(of: 0x0a) ?? (length > 0 ? length : nil) else {
      throw ArbiterError(.invalidArgument, "\(path): no header row")
    }
    var header: [String] = []
    var cursor = 0
    while cursor < headerEnd {
      let (field, next) = try readField(bytes, from: cursor, end: headerEnd, line: 1, path: path)
      header.append(field.trimmingCharacters(in: .whitespaces))
      cursor = next
    }
    if header.last?.hasSuffix("\r") == true { header[header.count - 1].removeLast() }
    guard let idColumn = header.firstIndex(of: "customer_id") else {
      throw ArbiterError(.invalidArgument, "\(path):1: no 'customer_id' column in the header")
    }
    let nameColumn = header.firstIndex(of: "display_name")
    var featureOfColumn = [Int](repeating: -1, count: header.count)
    var seen = Set<String>()
    var report = CSVImportReport()
    for (column, name) in header.enumerated() {
      guard seen.insert(name).inserted else { throw ArbiterError(.invalidArgument, "\(path):1: column '\(name)' appears twice") }
      if column == idColumn || column == nameColumn { continue }
      if let feature = store.schema.customerIndex(of: name) { featureOfColumn[column] = feature } else { report.ignoredColumns.append(name) }
    }
    let missing = store.schema.customerFeatures.enumerated().filter { feature in
      !featureOfColumn.contains(feature.offset) && !CompiledDerivationsInternal.isInternal(feature.element)
    }
    guard missing.isEmpty else {
      throw ArbiterError(.invalidArgument, "\(path):1: no column for feature(s) \(missing.prefix(5).map { "'\($0.element.name)'" }.joined(separator: ", "))\(missing.count > 5 ? " and \(missing.count - 5) more" : "")")
    }

    // Chunks at line boundaries.
    let bodyStart = min(length, headerEnd + 1)
    let chunkSize = max(1 << 20, (length - bodyStart) / max(1, threads * 8))
    var bounds: [Int] = [bodyStart]
    while let last = bounds.last, last < length {
      var end = min(length, last + chunkSize)
      while end < length && bytes[end - 1] != 0x0a { end += 1 }
      bounds.append(end)
    }
    let chunks = Array(zip(bounds, bounds.dropFirst()))
    let width = store.width
    let header_ = header
    let columns = featureOfColumn

    struct Parsed: Sendable {
      var records: [CustomerRecord] = []
      /// Each record's line within the chunk.
      var recordLines: [Int] = []
      var lines = 0
      var rejected = 0
      /// (line within the chunk, message without the line)
      var errors: [(Int, String)] = []
    }
    // Parse `threads` chunks at a time in parallel, apply them in file order.
    var lineBase = 1
    var group = 0
    while group < chunks.count {
      let slice = Array(chunks[group..<min(chunks.count, group + threads)])
      nonisolated(unsafe) let results = UnsafeMutableBufferPointer<Parsed>.allocate(capacity: slice.count)
      results.initialize(repeating: Parsed())
      defer { results.deallocate() }
      DispatchQueue.concurrentPerform(iterations: slice.count) { k in
        var parsed = Parsed()
        var position = slice[k].0
        let end = slice[k].1
        var values = [Float](repeating: .nan, count: width)
        while position < end {
          parsed.lines += 1
          var lineEnd = position
          while lineEnd < end && bytes[lineEnd] != 0x0a { lineEnd += 1 }
          var contentEnd = lineEnd
          if contentEnd > position && bytes[contentEnd - 1] == 0x0d { contentEnd -= 1 }
          defer { position = lineEnd + 1 }
          if contentEnd == position { parsed.lines -= 0; continue }
          for f in 0..<width { values[f] = .nan }
          var id: UInt64 = 0
          var name = ""
          var column = 0
          var cursor = position
          var problem: String?
          while cursor <= contentEnd && problem == nil {
            guard column < header_.count else { problem = "more than the header's \(header_.count) columns"; break }
            var fieldEnd = cursor
            if cursor < contentEnd && bytes[cursor] == UInt8(ascii: "\"") {
              do {
                let (text, next) = try readField(bytes, from: cursor, end: contentEnd, line: 0, path: path)
                if column == nameColumn { name = text } else if column == idColumn { id = UInt64(text) ?? 0 } else if columns[column] >= 0 {
                  guard let value = Float(text), value.isFinite else { problem = "column \(header_[column]): '\(text)' is not a number"; break }
                  values[columns[column]] = value
                }
                cursor = next
                column += 1
                if next > contentEnd { break }
                continue
              } catch let error as ArbiterError {
                problem = "column \(header_[column]): \(error.message)"
                break
              } catch {
                problem = "column \(header_[column]): \(error)"
                break
              }
            }
            while fieldEnd < contentEnd && bytes[fieldEnd] != UInt8(ascii: ",") { fieldEnd += 1 }
            let field = UnsafeRawBufferPointer(rebasing: bytes[cursor..<fieldEnd])
            if column == idColumn {
              guard let parsedId = parseUInt64(field), parsedId != 0 else {
                problem = "column customer_id: '\(String(decoding: field, as: UTF8.self))' is not a customer id"
                break
              }
              id = parsedId
            } else if column == nameColumn {
              name = String(decoding: field, as: UTF8.self)
            } else if columns[column] >= 0 && !field.isEmpty {
              guard let value = parseFloat(field), value.isFinite else {
                problem = "column \(header_[column]): '\(String(decoding: field, as: UTF8.self))' is not a number"
                break
              }
              values[columns[column]] = value
            }
            column += 1
            cursor = fieldEnd + 1
          }
          if problem == nil && column != header_.count { problem = "\(column) columns, the header has \(header_.count)" }
          if problem == nil && id == 0 { problem = "column customer_id: missing" }
          if let problem {
            parsed.rejected += 1
            if parsed.errors.count < maxReportedErrors { parsed.errors.append((parsed.lines, problem)) }
            continue
          }
          parsed.records.append(CustomerRecord(id: id, displayName: name, values: values))
          parsed.recordLines.append(parsed.lines)
        }
        results[k] = parsed
      }
      for parsed in results {
        for (line, message) in parsed.errors where report.errors.count < maxReportedErrors {
          report.errors.append("\(path):\(lineBase + line): \(message)")
        }
        report.rejected += parsed.rejected
        report.rows += parsed.lines
        if !parsed.records.isEmpty {
          let result = try store.upsert(parsed.records, asOfDays: asOfDays, logged: logged)
          report.inserted += result.inserted
          report.updated += result.updated
          report.rejected += result.rejected
          for (position, id, problem) in result.problems where report.errors.count < maxReportedErrors {
            report.errors.append("\(path):\(lineBase + parsed.recordLines[position]): customer \(id): \(problem)")
          }
        }
        lineBase += parsed.lines
      }
      group += threads
    }
    report.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    return report
  }

  /// A quoted or plain field starting at `start`; returns its text and the index after its comma.
  static func readField(_ bytes: UnsafeRawBufferPointer, from start: Int, end: Int, line: Int, path: String) throws(ArbiterError) -> (String, Int) {
    guard start < end, bytes[start] == UInt8(ascii: "\"") else {
      var i = start
      while i < end && bytes[i] != UInt8(ascii: ",") { i += 1 }
      return (String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self), i + 1)
    }
    var text: [UInt8] = []
    var i = start + 1
    while true {
      guard i < end else { throw ArbiterError(.invalidArgument, "quoted field not closed on its line") }
      if bytes[i] == UInt8(ascii: "\"") {
        if i + 1 < end && bytes[i + 1] == UInt8(ascii: "\"") { text.append(UInt8(ascii: "\"")); i += 2; continue }
        i += 1
        break
      }
      text.append(bytes[i])
      i += 1
    }
    guard i >= end || bytes[i] == UInt8(ascii: ",") else { throw ArbiterError(.invalidArgument, "text after a closing quote") }
    return (String(decoding: text, as: UTF8.self), i + 1)
  }

  @inline(__always) static func parseUInt64(_ field: UnsafeRawBufferPointer) -> UInt64? {
    guard !field.isEmpty, field.count <= 20 else { return nil }
    var value: UInt64 = 0
    for byte in field {
      guard byte >= 48 && byte <= 57 else { return nil }
      let (times, o1) = value.multipliedReportingOverflow(by: 10)
      let (sum, o2) = times.addingReportingOverflow(UInt64(byte - 48))
      if o1 || o2 { return nil }
      value = sum
    }
    return value
  }

  /// Integers below 2^24 exactly by hand; anything else through the C library's correctly
  /// rounded `strtof`, so that the result equals Swift's `Float(String)`.
  @inline(__always) static func parseFloat(_ field: UnsafeRawBufferPointer) -> Float? {
    var negative = false
    var i = 0
    if field.count > 0 && field[0] == UInt8(ascii: "-") { negative = true; i = 1 }
    var integer = 0
    var plain = i < field.count && field.count - i <= 7
    if plain {
      for j in i..<field.count {
        let byte = field[j]
        guard byte >= 48 && byte <= 57 else { plain = false; break }
        integer = integer * 10 + Int(byte - 48)
      }
    }
    if plain { return negative ? -Float(integer) : Float(integer) }
    guard field.count < 64 else { return nil }
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer -> Float? in
      for j in 0..<field.count { buffer[j] = CChar(bitPattern: field[j]) }
      buffer[field.count] = 0
      var end: UnsafeMutablePointer<CChar>?
      let value = strtof(buffer.baseAddress!, &end)
      guard let end, end - buffer.baseAddress! == field.count else { return nil }
      return value
    }
  }
}

/// Shared with the importer: which features are internal state (not expected in a CSV).
enum CompiledDerivationsInternal {
  static func isInternal(_ feature: FeatureDefinition) -> Bool { CompiledDerivations.isInternalState(feature) }
}
