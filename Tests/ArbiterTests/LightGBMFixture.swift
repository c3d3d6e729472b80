import ArbiterCore
import ArbiterModels
import Foundation

/// A LightGBM parity fixture made by a tools/ script: the schema, the model text, and per row the
/// feature values (empty cells missing) with LightGBM's own raw score and probability.
struct LightGBMFixture {
  let schema: FeatureSchema
  let text: String
  let rows: [[Float]]
  let expected: [(raw: Double, probability: Double)]

  /// Reads `schema.json`, `lightgbm.txt` and `parity.csv` from `directory`.
  init(directory: String) throws {
    let schemaData = try Data(contentsOf: URL(fileURLWithPath: directory + "/schema.json"))
    schema = try CanonicalJSON.decode(FeatureSchema.self, from: schemaData, file: "schema.json")
    text = try String(contentsOfFile: directory + "/lightgbm.txt", encoding: .utf8)
    let table = try CSVTable(
      text: String(contentsOfFile: directory + "/parity.csv", encoding: .utf8), file: "parity.csv")
    let width = schema.width
    rows = table.rows.map { row in (0..<width).map { row[$0].isEmpty ? Float.nan : Float(row[$0])! } }
    expected = table.rows.map { row in (Double(row[width])!, Double(row[width + 1])!) }
  }
}
