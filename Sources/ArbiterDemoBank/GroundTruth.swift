import ArbiterCore
import Foundation

/// One term of the demo bank's hidden response model.
public struct TruthTerm: Codable, Sendable, Hashable {
  /// How a term turns the feature's value into a contribution to the log-odds.
  public enum Shape: String, Codable, Sendable {
    /// weight × (x − center) / width
    case linear
    /// weight × exp(−((x − center) / width)²): a preference for values near `center`
    case bump
    /// weight × (x ≥ center)
    case step
    /// weight × (x == center): a categorical level's code
    case level
  }
  /// The customer feature the term reads.
  public var feature: String
  /// How the term shapes the feature's value.
  public var shape: Shape
  /// The term's weight, in log-odds.
  public var weight: Double
  /// The term's reference point: the centre for linear and bump, the threshold for step, the level's code for level.
  public var center: Double
  /// The term's scale for linear and bump, in the feature's unit (1 for step and level).
  public var width: Double

  /// A term `weight × (x − center) / width` on `feature`.
  public static func linear(feature: String, weight: Double, center: Double, width: Double) -> TruthTerm {
    TruthTerm(feature: feature, shape: .linear, weight: weight, center: center, width: width)
  }
  /// A term `weight × exp(−((x − center) / width)²)` on `feature`: a preference for values near `center`.
  public static func bump(feature: String, weight: Double, center: Double, width: Double) -> TruthTerm {
    TruthTerm(feature: feature, shape: .bump, weight: weight, center: center, width: width)
  }
  /// A term adding `weight` when `feature` is at least `atLeast`.
  public static func step(feature: String, weight: Double, atLeast: Double) -> TruthTerm {
    TruthTerm(feature: feature, shape: .step, weight: weight, center: atLeast, width: 1)
  }
  /// A term adding `weight` when the categorical `feature` has the level with this code.
  public static func level(feature: String, weight: Double, code: Int) -> TruthTerm {
    TruthTerm(feature: feature, shape: .level, weight: weight, center: Double(code), width: 1)
  }
}

/// The true response model of one offer: what the demo bank's customers actually do. Not
/// visible to the trainer; kept so that decision quality can be measured against the truth.
public struct OfferTruth: Codable, Sendable, Hashable {
  /// The offer this is the truth of.
  public var offerId: String
  /// The log-odds of acceptance before any term or channel effect.
  public var intercept: Double
  /// The terms added to the log-odds.
  public var terms: [TruthTerm]
  /// Added to the log-odds per channel name.
  public var channelEffects: [String: Double]
}

/// The demo bank's hidden ground truth (`ground-truth.json`).
public struct GroundTruth: Codable, Sendable, Hashable {
  /// The true response model of each offer.
  public var offers: [OfferTruth]

  /// A compiled form for fast evaluation.
  public struct Evaluator: Sendable {
    let intercepts: [Double]
    let features: [[Int]]
    let terms: [[TruthTerm]]
    let channel: [[Double]]

    /// Compiles `truth` against `schema`; throws `failedPrecondition` when a term names a feature the schema lacks.
    public init(truth: GroundTruth, schema: FeatureSchema) throws(ArbiterError) {
      var intercepts: [Double] = [], features: [[Int]] = [], terms: [[TruthTerm]] = [], channel: [[Double]] = []
      for offer in truth.offers {
        intercepts.append(offer.intercept)
        var indices: [Int] = []
        for term in offer.terms {
          indices.append(try schema.requireCustomerIndex(term.feature, for: "ground truth of '\(offer.offerId)'"))
        }
        features.append(indices)
        terms.append(offer.terms)
        channel.append(Channel.allCases.map { offer.channelEffects[$0.name] ?? 0 })
      }
      self.intercepts = intercepts
      self.features = features
      self.terms = terms
      self.channel = channel
    }

    /// The true acceptance probability of offer `offer` (index in the truth's order).
    public func probability(offer: Int, customer: UnsafeBufferPointer<Float>, channel: Channel) -> Double {
      var z = intercepts[offer] + self.channel[offer][channel.ordinal]
      for (t, term) in terms[offer].enumerated() {
        let x = Double(customer[features[offer][t]])
        switch term.shape {
        case .linear: z += term.weight * (x - term.center) / term.width
        case .bump: let u = (x - term.center) / term.width; z += term.weight * exp(-u * u)
        case .step: z += x >= term.center ? term.weight : 0
        case .level: z += x == term.center ? term.weight : 0
        }
      }
      return 1 / (1 + exp(-z))
    }
  }
}
