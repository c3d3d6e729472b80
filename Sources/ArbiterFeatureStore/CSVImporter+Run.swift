import ArbiterCore
import Foundation

/// Running an import: chunks parsed `threads` at a time in parallel, applied in file order.
extension CSVImporter {
  /// One import's state: the report so far and the file line the next chunk's lines count from.
  struct ImportRun {
    let path: String
    let store: FeatureStore
    let asOfDays: Double
    let logged: Bool
    var report = CSVImportReport()
    var lineBase = 1

    /// Parses `threads` chunks at a time in parallel, then applies them in file order.
    mutating func importChunks(_ chunks: [(Int, Int)], parser: ChunkParser, threads: Int) throws(ArbiterError) {
      nonisolated(unsafe) let shared = parser
      var group = 0
      while group < chunks.count {
        let slice = Array(chunks[group..<min(chunks.count, group + threads)])
        nonisolated(unsafe) let results = UnsafeMutableBufferPointer<ParsedChunk>.allocate(capacity: slice.count)
        results.initialize(repeating: ParsedChunk())
        defer {
          results.deinitialize()
          results.deallocate()
        }
        DispatchQueue.concurrentPerform(iterations: slice.count) { k in
          results[k] = shared.parse(from: slice[k].0, to: slice[k].1)
        }
        for parsed in results { try apply(parsed) }
        group += threads
      }
    }

    /// One parsed chunk into the store and the report: its rejections by file line, its records
    /// upserted (with the store's own rejections, by file line too).
    private mutating func apply(_ parsed: ParsedChunk) throws(ArbiterError) {
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
  }
}
