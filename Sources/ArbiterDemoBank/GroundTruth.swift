import ArbiterCore
import Foundation

/// One term of the demo bank's hidden response model.
public struct TruthTerm: Codable, Sendable, Hashable {
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
  public var feature: String
  public var shape: Shape
  public var weight: Double
  public var center: Double
  public var width: Double

  public static func linear(_ feature: String, _ weight: Double, center: Double, width: Double) -> TruthTerm {
    TruthTerm(feature: feature, shape: .linear, weight: weight, center: center, width: width)
  }
  public static func bump(_ feature: String, _ weight: Double, center: Double, width: Double) -> TruthTerm {
    TruthTerm(feature: feature, shape: .bump, weight: weight, center: center, width: width)
  }
  public static func step(_ feature: String, _ weight: Double, atLeast: Double) -> TruthTerm {
    TruthTerm(feature: feature, shape: .step, weight: weight, center: atLeast, width: 1)
  }
  public static func level(_ feature: String, _ weight: Double, code: Int) -> TruthTerm {
    TruthTerm(feature: feature, shape: .level, weight: weight, center: Double(code), width: 1)
  }
}

/// The true response model of one offer: what the demo bank's customers actually do. Not
/// visible to the trainer; kept so that decision quality can be measured against the truth.
public struct OfferTruth: Codable, Sendable, Hashable {
  public var offerId: String
  public var intercept: Double
  public var terms: [TruthTerm]
  /// Added to the log-odds per channel name.
  public var channelEffects: [String: Double]
}

/// The demo bank's hidden ground truth (`ground-truth.json`).
public struct GroundTruth: Codable, Sendable, Hashable {
  public var offers: [OfferTruth]

  /// A compiled form for fast evaluation.
  public struct Evaluator: Sendable {
    let intercepts: [Double]
    let features: [[Int]]
    let terms: [[TruthTerm]]
    let channel: [[Double]]

    public init(truth: GroundTruth, schema: FeatureSchema) throws(ArbiterError) {
      var intercepts: [Double] = [], features: [[Int]] = [], terms: [[TruthTerm]] = [], channel: [[Double]] = []
      for offer in truth.offers {
        intercepts.append(offer.intercept)
        var indices: [Int] = []
        for term in offer.terms { indices.append(try schema.requireCustomerIndex(term.feature, for: "ground truth of '\(offer.offerId)'")) }
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
