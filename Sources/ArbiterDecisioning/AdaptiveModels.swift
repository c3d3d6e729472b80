import ArbiterCore
import ArbiterFeatureStore
import ArbiterModels
import Foundation
import Synchronization

/// The models that learn from every outcome (``AdaptivePolicy``): one ``OnlinePosterior`` per
/// offer (or offer and channel), over the inputs [1, the offline model's log-odds, the customer's
/// standardised numeric features]. Kept by the live state across reloads, keyed by offer.
///
/// Reads never lock: every weight's mean and variance is also published in an atomic word, and a
/// decision reads those. Updates are serialised by a mutex and publish each weight as they go, so
/// a decision racing an update may read some weights from before it and some from after — a
/// harmless mix of two neighbouring posteriors.
public final class AdaptiveModels: @unchecked Sendable {
  /// Which prior a model starts from.
  public enum Prior: String, Sendable, Codable {
    /// Refining an offline model: intercept 0, log-odds coefficient 1, feature weights 0.
    case offline
    /// An offer without an offline model: its prior log-odds, wide variances.
    case new
    /// An offer without an offline model that is a variant of one with a model: that model's
    /// log-odds as its input, with a wide intercept to learn how the variant differs (its
    /// feature weights as narrow as a trained offer's).
    case lookalike
  }

  /// What is kept durable: the inputs' standardisation and every model's posterior.
  public struct Snapshot: Sendable, Codable, Hashable {
    /// The customer features read (schema indices) and their standardisation.
    public var columns: [Int]
    public var centers: [Double]
    public var scales: [Double]
    /// The models by key ("offer", "offer@channel", "offer#new").
    public var models: [String: OnlinePosterior]
    /// Updates refused (not finite) since the start.
    public var refused: UInt64
  }

  /// The number of inputs of every model: the intercept, the offline log-odds, the features.
  public let width: Int
  /// The customer features the inputs read, with their centres and scales.
  public let columns: [Int]
  let centers: [Double]
  let scales: [Double]
  /// The most models the table holds.
  public let capacity: Int
  private let published: UnsafeMutablePointer<Atomic<UInt64>>
  private let state: Mutex<State>
  private let modelCount = Atomic<Int>(0)

  struct State {
    var keys: [String: Int] = [:]
    var posteriors: [OnlinePosterior] = []
    var priors: [Prior] = []
    var refused: UInt64 = 0
  }

  /// A table for `schema`'s numeric and boolean customer features, standardised by their mean
  /// and standard deviation over up to 10,000 customers of `customers` (or by `snapshot`'s).
  public init(
    schema: FeatureSchema, customers: FeatureStore?, nowDays: Double, snapshot: Snapshot? = nil, capacity: Int = 4_096
  ) {
    if let snapshot {
      columns = snapshot.columns
      centers = snapshot.centers
      scales = snapshot.scales
    } else {
      let numeric = Self.inputColumns(of: schema)
      (centers, scales) = Self.standardisation(of: numeric, width: schema.width, customers: customers, nowDays: nowDays)
      columns = numeric
    }
    width = 2 + columns.count
    self.capacity = capacity
    published = .allocate(capacity: 2 * capacity * width)
    for i in 0..<(2 * capacity * width) { (published + i).initialize(to: Atomic(0)) }
    state = Mutex(State())
    if let snapshot { restore(snapshot.models, refused: snapshot.refused) }
  }

  deinit {
    published.deinitialize(count: 2 * capacity * width)
    published.deallocate()
  }

  /// The customer features the inputs read: the numeric and boolean ones.
  public static func inputColumns(of schema: FeatureSchema) -> [Int] {
    schema.customerFeatures.indices.filter {
      if case .categorical = schema.customerFeatures[$0].kind { return false }
      return true
    }
  }

  /// Whether a snapshot fits this table's inputs (the same features).
  public func accepts(_ snapshot: Snapshot) -> Bool {
    snapshot.columns == columns && snapshot.scales.count == columns.count
  }

  static func standardisation(
    of columns: [Int], width: Int, customers: FeatureStore?, nowDays: Double
  ) -> (centers: [Double], scales: [Double]) {
    var sums = [Double](repeating: 0, count: columns.count), squares = sums, counts = sums
    if let customers, customers.count > 0 {
      let step = max(1, customers.count / 10_000)
      var row = [Float](repeating: 0, count: width)
      for r in stride(from: 0, to: customers.count, by: step) {
        row.withUnsafeMutableBufferPointer { customers.read(row: r, into: $0, nowDays: nowDays) }
        for (k, column) in columns.enumerated() where row[column].isFinite {
          let value = Double(row[column])
          sums[k] += value
          squares[k] += value * value
          counts[k] += 1
        }
      }
    }
    var centers = [Double](repeating: 0, count: columns.count), scales = [Double](repeating: 1, count: columns.count)
    for k in columns.indices where counts[k] > 1 {
      centers[k] = sums[k] / counts[k]
      let variance = max(0, squares[k] / counts[k] - centers[k] * centers[k])
      scales[k] = variance > 1e-12 ? variance.squareRoot() : 1
    }
    return (centers, scales)
  }

  // MARK: inputs

  /// The standardised features of a customer vector, into `s` (of `columns.count`): missing is
  /// 0 (the mean), and values are clipped to ±5 standard deviations.
  @inline(__always)
  public func standardise(customer: UnsafeBufferPointer<Float>, into s: UnsafeMutableBufferPointer<Double>) {
    for k in columns.indices {
      let value = Double(customer[columns[k]])
      s[k] = value.isFinite ? min(5, max(-5, (value - centers[k]) / scales[k])) : 0
    }
  }

  /// The linear predictor's mean and variance for model `slot` with the offline log-odds `logit`
  /// and standardised features `s`.
  @inline(__always)
  public func predictor(slot: Int, logit: Double, s: UnsafeBufferPointer<Double>) -> (mean: Double, variance: Double) {
    (mean(slot: slot, logit: logit, s: s), variance(slot: slot, logit: logit, s: s))
  }

  /// The linear predictor's mean (four running sums, so that the additions overlap).
  @inline(__always)
  public func mean(slot: Int, logit: Double, s: UnsafeBufferPointer<Double>) -> Double {
    Self.dot(published + 2 * slot * width, logit: logit, s: s, squared: false)
  }

  /// The linear predictor's variance: Σ σ²x².
  @inline(__always)
  public func variance(slot: Int, logit: Double, s: UnsafeBufferPointer<Double>) -> Double {
    Self.dot(published + 2 * slot * width + width, logit: logit, s: s, squared: true)
  }

  @inline(__always)
  private static func dot(
    _ w: UnsafeMutablePointer<Atomic<UInt64>>, logit: Double, s: UnsafeBufferPointer<Double>, squared: Bool
  ) -> Double {
    @inline(__always) func weight(_ i: Int) -> Double { Double(bitPattern: w[i].load(ordering: .relaxed)) }
    @inline(__always) func input(_ k: Int) -> Double { squared ? s[k] * s[k] : s[k] }
    var a = weight(0) + weight(1) * (squared ? logit * logit : logit), b = 0.0, c = 0.0, d = 0.0
    let n = s.count
    var k = 0
    while k + 4 <= n {
      a += weight(k + 2) * input(k)
      b += weight(k + 3) * input(k + 1)
      c += weight(k + 4) * input(k + 2)
      d += weight(k + 5) * input(k + 3)
      k += 4
    }
    while k < n {
      a += weight(k + 2) * input(k)
      k += 1
    }
    return (a + b) + (c + d)
  }

  // MARK: models

  /// The slot of the model with `key`, made from `prior` under `policy` when it is new; nil when
  /// the table is full.
  public func slot(key: String, prior: Prior, policy: AdaptivePolicy) -> Int? {
    state.withLock { state in
      if let slot = state.keys[key] { return slot }
      guard state.posteriors.count < capacity else { return nil }
      let slot = state.posteriors.count
      let posterior = Self.prior(prior, policy: policy, width: width)
      state.keys[key] = slot
      state.posteriors.append(posterior)
      state.priors.append(prior)
      publish(posterior, slot: slot)
      modelCount.store(state.posteriors.count, ordering: .releasing)
      return slot
    }
  }

  /// A model's prior under `policy`.
  public static func prior(_ prior: Prior, policy: AdaptivePolicy, width: Int) -> OnlinePosterior {
    var mean = [Double](repeating: 0, count: width)
    mean[1] = 1
    var variance = [Double](
      repeating: prior == .offline ? policy.featureVariance : policy.newOfferFeatureVariance, count: width)
    switch prior {
    case .offline:
      variance[0] = policy.offlineVariance
      variance[1] = policy.offlineVariance
    case .new:
      variance[0] = policy.newOfferVariance
      // The log-odds input is the prior's constant: the intercept learns instead.
      variance[1] = 1e-6
    case .lookalike:
      // A variant of a trained model: its level is uncertain, its shape is the model's.
      variance[0] = policy.newOfferVariance
      variance[1] = policy.offlineVariance
      for i in 2..<width { variance[i] = policy.featureVariance }
    }
    return OnlinePosterior(mean: mean, variance: variance)
  }

  private func publish(_ posterior: OnlinePosterior, slot: Int) {
    let base = published + 2 * slot * width
    for i in 0..<width {
      base[i].store(posterior.mean[i].bitPattern, ordering: .relaxed)
      base[width + i].store(posterior.variance[i].bitPattern, ordering: .relaxed)
    }
  }

  /// Learns one outcome of model `slot`, from the features the decision saw (`customer`) and
  /// its offline log-odds; false when refused (the input or the result is not finite).
  @discardableResult
  public func update(slot: Int, logit: Double, customer: UnsafeBufferPointer<Float>, label: Bool, drift: Double) -> Bool
  {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: width) { x in
      x[0] = 1
      x[1] = logit
      standardise(customer: customer, into: UnsafeMutableBufferPointer(rebasing: x[2...]))
      return update(slot: slot, x: UnsafeBufferPointer(x), label: label, drift: drift)
    }
  }

  /// Learns one outcome of model `slot` with input `x` (of ``width``).
  @discardableResult
  public func update(slot: Int, x: UnsafeBufferPointer<Double>, label: Bool, drift: Double) -> Bool {
    state.withLock { state in
      guard slot < state.posteriors.count, state.posteriors[slot].update(x: x, label: label, drift: drift) else {
        state.refused += 1
        return false
      }
      publish(state.posteriors[slot], slot: slot)
      return true
    }
  }

  // MARK: status, snapshot, reset

  /// Every model by key, with its prior.
  public var models: [(key: String, prior: Prior, posterior: OnlinePosterior)] {
    state.withLock { state in
      state.keys.sorted { $0.value < $1.value }.map { ($0.key, state.priors[$0.value], state.posteriors[$0.value]) }
    }
  }

  /// Updates refused since the start.
  public var refusedCount: UInt64 { state.withLock { $0.refused } }

  /// The table as a snapshot.
  public func snapshot() -> Snapshot {
    state.withLock { state in
      var models: [String: OnlinePosterior] = [:]
      for (key, slot) in state.keys { models[key] = state.posteriors[slot] }
      return Snapshot(columns: columns, centers: centers, scales: scales, models: models, refused: state.refused)
    }
  }

  /// Replaces the models with a snapshot's (slots are kept for keys already known).
  func restore(_ models: [String: OnlinePosterior], refused: UInt64) {
    state.withLock { state in
      state.refused = refused
      for key in models.keys.sorted() {
        let posterior = models[key]!
        guard posterior.mean.count == width else { continue }
        let slot: Int
        if let known = state.keys[key] {
          slot = known
          state.posteriors[slot] = posterior
        } else {
          guard state.posteriors.count < capacity else { break }
          slot = state.posteriors.count
          state.keys[key] = slot
          state.posteriors.append(posterior)
          state.priors.append(key.contains("#new") ? .new : key.contains("#like") ? .lookalike : .offline)
        }
        publish(posterior, slot: slot)
      }
      modelCount.store(state.posteriors.count, ordering: .releasing)
    }
  }

  /// Every model back to its prior under `policy` (their slots kept).
  public func reset(policy: AdaptivePolicy) {
    state.withLock { state in
      for slot in state.posteriors.indices {
        state.posteriors[slot] = Self.prior(state.priors[slot], policy: policy, width: width)
        publish(state.posteriors[slot], slot: slot)
      }
      state.refused = 0
    }
  }

  /// A model's key: the offer, "#new" without an offline model ("#like" from a look-alike's),
  /// "@channel" per channel.
  public static func key(offerId: String, prior: Prior, channel: Channel?) -> String {
    let suffix = prior == .new ? "#new" : prior == .lookalike ? "#like" : ""
    return offerId + suffix + (channel.map { "@\($0.name)" } ?? "")
  }
}
