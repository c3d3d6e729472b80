import ArbiterCore
import Foundation

/// A candidate policy written as rules over the features, for off-policy evaluation: the first
/// rule whose condition holds decides, with one action or a mix of actions with probabilities.
///
/// ```json
/// {"name": "women's to women's buyers",
///  "rules": [{"when": "womens == 1 and mens == 0", "action": "Womens E-Mail"},
///            {"actions": {"Mens E-Mail": 0.5, "No E-Mail": 0.5}}]}
/// ```
/// The last rule has no condition: every customer gets a choice.
public struct RulePolicy: Sendable {
  /// One rule: when its condition holds (always, without one), the actions with their probabilities.
  public struct Rule: Sendable {
    /// The condition; nil for the closing rule.
    public var condition: RuleExpression?
    /// The actions and their probabilities (summing to 1).
    public var actions: [(action: String, probability: Double)]
  }

  /// The policy's name, for reports.
  public var name: String
  /// The rules, first match wins.
  public var rules: [Rule]

  /// The policy that always takes `action`.
  public static func always(_ action: String) -> RulePolicy {
    RulePolicy(name: "always \(action)", rules: [Rule(condition: nil, actions: [(action, 1)])])
  }

  /// A policy from rules already made.
  public init(name: String, rules: [Rule]) {
    self.name = name
    self.rules = rules
  }

  /// Reads a policy file; its rules are compiled against `schema` and may name only `actions`.
  /// Throws naming the file, the rule and what is wrong.
  public init(path: String, schema: FeatureSchema, actions: Set<String>) throws(ArbiterError) {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
      throw ArbiterError(.notFound, "\(path): cannot be read (\(error.localizedDescription))")
    }
    try self.init(json: data, file: (path as NSString).lastPathComponent, schema: schema, actions: actions)
  }

  /// Reads a policy document; `file` names it in messages.
  public init(json: Data, file: String, schema: FeatureSchema, actions: Set<String>) throws(ArbiterError) {
    guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
      throw ArbiterError(.invalidArgument, "\(file): not a JSON object")
    }
    guard let list = object["rules"] as? [[String: Any]], !list.isEmpty else {
      throw ArbiterError(.invalidArgument, "\(file): 'rules' must be a non-empty array of objects")
    }
    let known = actions.sorted().joined(separator: ", ")
    var rules: [Rule] = []
    for (index, entry) in list.enumerated() {
      let at = "\(file): rule \(index + 1)"
      var condition: RuleExpression?
      if let source = entry["when"] {
        guard let text = source as? String else {
          throw ArbiterError(.invalidArgument, "\(at): 'when' must be a string")
        }
        do { condition = try RuleExpression(text, schema: schema) } catch {
          throw ArbiterError(.invalidArgument, "\(at): 'when' at \(error.description)")
        }
      } else if index != list.count - 1 {
        throw ArbiterError(.invalidArgument, "\(at): only the last rule may have no 'when'")
      }
      var choices: [(action: String, probability: Double)] = []
      if let action = entry["action"] as? String {
        choices = [(action, 1)]
      } else if let mix = entry["actions"] as? [String: Any] {
        for name in mix.keys.sorted() {
          guard let p = (mix[name] as? NSNumber)?.doubleValue, p >= 0, p <= 1 else {
            throw ArbiterError(.invalidArgument, "\(at): the probability of '\(name)' must be a number in [0, 1]")
          }
          choices.append((name, p))
        }
        let sum = choices.reduce(0) { $0 + $1.probability }
        guard abs(sum - 1) < 1e-9 else {
          throw ArbiterError(.invalidArgument, "\(at): the probabilities of 'actions' sum to \(sum), not 1")
        }
      } else {
        throw ArbiterError(.invalidArgument, "\(at): needs 'action' (a name) or 'actions' (names to probabilities)")
      }
      for choice in choices where !actions.contains(choice.action) {
        throw ArbiterError(.invalidArgument, "\(at): unknown action '\(choice.action)' (the log has: \(known))")
      }
      rules.append(Rule(condition: condition, actions: choices))
    }
    guard rules.last?.condition == nil else {
      throw ArbiterError(
        .invalidArgument, "\(file): the last rule must have no 'when', so that every customer gets a choice")
    }
    self.init(name: object["name"] as? String ?? (file as NSString).deletingPathExtension, rules: rules)
  }

  /// The actions and probabilities for a customer and context (of the schema the rules were compiled against).
  public func choices(
    customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>
  ) -> [(
    action: String, probability: Double
  )] {
    rules[rule(customer: customer, context: context)].actions
  }

  /// The index of the rule that decides for a customer and context.
  public func rule(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Int {
    rules.firstIndex { $0.condition?.holds(customer: customer, context: context) ?? true } ?? rules.count - 1
  }
}
