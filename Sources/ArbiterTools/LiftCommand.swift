import ArbiterCore
import ArbiterDecisioning
import ArbiterModels
import ArgumentParser
import Foundation

/// `arbiter-tools lift`: treatment against control per offer group, from an interaction log.
struct Lift: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure lift against the control group per offer group from an interaction log.",
    discussion: """
      For each offer group, inbound decisions and outbound campaigns apart: the decisions and customers shown an \\
      offer of the group (treatment) against those held out of it (control), their response rates and value per \\
      decision, and the differences with confidence intervals. A held-out customer's response is a conversion \\
      reported for the held-out offer. Groups and values come from --bundle's catalogue (without one, each offer \\
      is its own group). Writes the report as JSON with --json.
      """)

  @Option(help: "An interaction log (repeatable, in order).") var log: [String] = []
  @Option(help: "The bundle whose catalogue names the offer groups and values.") var bundle: String?
  @Option(help: "How long after a decision a response counts.") var window = "30d"
  @Option(help: "The intervals' coverage.") var level = 0.95
  @Option(help: "Write the report as JSON to this file.") var json: String?

  func run() throws {
    guard !log.isEmpty else { throw ValidationError("give at least one --log") }
    guard let duration = DurationText.parse(window), duration > .zero else {
      throw ValidationError("--window '\(window)' is not a duration such as 30d or 36h")
    }
    guard level > 0, level < 1 else { throw ValidationError("--level must be between 0 and 1") }
    var groups: [String: String] = [:]
    var values: [String: Double] = [:]
    if let bundle {
      let loaded = try failing { try ModelBundle.load(from: bundle) }
      for offer in loaded.catalogue.offers {
        groups[offer.id] = offer.group ?? offer.category
        values[offer.id] = offer.value
      }
    }
    let read = try failing { try LoggedDecisions.read(paths: log, window: duration) }
    let report = LiftReport.measure(
      read, window: duration, level: level, groupOf: { groups[$0] }, valueOf: { values[$0] })
    print(Self.describe(report))
    if let json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      encoder.keyEncodingStrategy = .convertToSnakeCase
      encoder.nonConformingFloatEncodingStrategy = .convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      try encoder.encode(report).write(to: URL(fileURLWithPath: json))
      print("wrote \(json)")
    }
  }

  static func describe(_ report: LiftReport) -> String {
    let percent = Int((report.level * 100).rounded())
    var lines = [
      "direction  group                 treated (customers)  rate     control (customers)  rate     "
        + "acceptance lift, \(percent)%           value lift per decision, \(percent)%"
    ]
    func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
    for group in report.groups {
      let t = group.treatment, c = group.control
      var line = pad(group.direction, 11) + pad(group.group, 22)
      line += pad("\(t.decisions) (\(t.customers))", 21) + pad(String(format: "%.2f%%", 100 * t.rate), 9)
      line +=
        pad("\(c.decisions) (\(c.customers))", 21)
        + pad(c.decisions > 0 ? String(format: "%.2f%%", 100 * c.rate) : "—", 9)
      if let lift = group.acceptanceLift, let value = group.valueLift {
        line += pad(String(format: "%+.2f pp [%+.2f, %+.2f]", 100 * lift.value, 100 * lift.lower, 100 * lift.upper), 32)
        line += String(format: "%+.2f [%+.2f, %+.2f]", value.value, value.lower, value.upper)
      } else {
        line += group.note ?? ""
      }
      lines.append(line)
    }
    return lines.joined(separator: "\n")
  }
}
