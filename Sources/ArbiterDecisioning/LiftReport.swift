import ArbiterCore
import ArbiterLearning
import Foundation

/// Lift against control from an interaction log: per offer group, how the customers shown an
/// offer of the group responded against those held out of it (the control group the engine
/// draws and logs), in acceptance and in value, each difference with a confidence interval
/// (normal approximation), separately for inbound decisions and outbound campaigns.
///
/// A unit is a decision and an offer group: treated when an offer of the group was made (a
/// response is an accept or conversion of any of them within the window), control when one was
/// held out (a response is a conversion reported for it: the customer bought without being
/// asked). Only settled decisions count (an outcome, or the window closed by the log's end).
public struct LiftReport: Sendable, Codable {
  /// One arm of a group: treatment or control.
  public struct Arm: Sendable, Codable, Hashable {
    /// Units (decisions).
    public var decisions = 0
    /// Distinct customers among them.
    public var customers = 0
    /// Units with a response.
    public var responses = 0
    /// Total value of the responses, in the catalogue's currency.
    public var value = 0.0
    /// Sum of squared values (for the value's variance).
    var squares = 0.0

    /// The response rate.
    public var rate: Double { decisions == 0 ? .nan : Double(responses) / Double(decisions) }
    /// The mean value per decision.
    public var valuePerDecision: Double { decisions == 0 ? .nan : value / Double(decisions) }
    /// The variance of the mean value per decision.
    var valueVariance: Double {
      guard decisions > 1 else { return .nan }
      let n = Double(decisions)
      let mean = value / n
      return max(0, (squares - n * mean * mean) / (n - 1)) / n
    }
  }

  /// A difference of treatment over control with its interval.
  public struct Difference: Sendable, Codable, Hashable {
    public var value: Double
    public var lower: Double
    public var upper: Double
  }

  /// One offer group in one direction.
  public struct Group: Sendable, Codable, Hashable {
    /// The offer group.
    public var group: String
    /// "inbound" or "outbound".
    public var direction: String
    public var treatment: Arm
    public var control: Arm
    /// Treatment's response rate minus control's.
    public var acceptanceLift: Difference?
    /// Treatment's value per decision minus control's.
    public var valueLift: Difference?
    /// Why there is no interval, when there is none.
    public var note: String?
  }

  /// The groups, inbound first, each by name.
  public var groups: [Group]
  /// The intervals' coverage.
  public var level: Double

  /// Measures lift on a log; `groupOf` maps an offer to its group (nil: the offer is its own
  /// group), `valueOf` gives an offer's catalogue value (for responses that reported none).
  public static func measure(
    _ log: LoggedDecisions, window: Duration, level: Double = 0.95, groupOf: (String) -> String?,
    valueOf: (String) -> Double?
  ) -> LiftReport {
    struct Key: Hashable {
      var group: String
      var direction: String
    }
    var arms: [Key: (treatment: Arm, control: Arm)] = [:]
    var customers: [Key: (treatment: Set<UInt64>, control: Set<UInt64>)] = [:]
    for entry in log.entries where !(entry.shown.isEmpty && entry.heldOut.isEmpty) {
      guard !entry.settled.isEmpty || log.isSettled(entry, window: window) else { continue }
      let direction = entry.exploration == "outbound" ? "outbound" : "inbound"
      // Per group: the response and its value.
      var treated: [String: (responded: Bool, value: Double)] = [:]
      for offer in entry.shown {
        let group = groupOf(offer.offerId) ?? offer.offerId
        var arm = treated[group] ?? (false, 0)
        if entry.settled[offer.offerId] == true {
          arm.responded = true
          arm.value += entry.reportedValue[offer.offerId] ?? valueOf(offer.offerId) ?? offer.value
        }
        treated[group] = arm
      }
      var held: [String: (responded: Bool, value: Double)] = [:]
      for offerId in entry.heldOut {
        let group = groupOf(offerId) ?? offerId
        var arm = held[group] ?? (false, 0)
        if entry.settled[offerId] == true {
          arm.responded = true
          arm.value += entry.reportedValue[offerId] ?? valueOf(offerId) ?? 0
        }
        held[group] = arm
      }
      for (group, outcome) in treated {
        let key = Key(group: group, direction: direction)
        add(outcome, to: &arms[key, default: (Arm(), Arm())].treatment)
        customers[key, default: ([], [])].treatment.insert(entry.customerId)
      }
      for (group, outcome) in held {
        let key = Key(group: group, direction: direction)
        add(outcome, to: &arms[key, default: (Arm(), Arm())].control)
        customers[key, default: ([], [])].control.insert(entry.customerId)
      }
    }
    let z = OffPolicyEvaluation.normalQuantile(0.5 + level / 2)
    let groups = arms.keys.sorted { ($0.direction, $0.group) < ($1.direction, $1.group) }.map { key -> Group in
      var (treatment, control) = arms[key]!
      treatment.customers = customers[key]!.treatment.count
      control.customers = customers[key]!.control.count
      var group = Group(group: key.group, direction: key.direction, treatment: treatment, control: control)
      guard treatment.decisions >= 2, control.decisions >= 2 else {
        group.note = control.decisions < 2 ? "no control group (fewer than 2 held out)" : "fewer than 2 treated"
        return group
      }
      let p1 = treatment.rate, p0 = control.rate
      let rateError = (p1 * (1 - p1) / Double(treatment.decisions) + p0 * (1 - p0) / Double(control.decisions))
        .squareRoot()
      group.acceptanceLift = Difference(value: p1 - p0, lower: p1 - p0 - z * rateError, upper: p1 - p0 + z * rateError)
      let valueDifference = treatment.valuePerDecision - control.valuePerDecision
      let valueError = (treatment.valueVariance + control.valueVariance).squareRoot()
      group.valueLift = Difference(
        value: valueDifference, lower: valueDifference - z * valueError, upper: valueDifference + z * valueError)
      return group
    }
    return LiftReport(groups: groups, level: level)
  }

  private static func add(_ outcome: (responded: Bool, value: Double), to arm: inout Arm) {
    arm.decisions += 1
    if outcome.responded { arm.responses += 1 }
    arm.value += outcome.value
    arm.squares += outcome.value * outcome.value
  }
}
