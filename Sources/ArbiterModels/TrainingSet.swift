import ArbiterCore

/// Labelled examples for one offer: the customer's vector and the interaction's context vector
/// at the time the offer was made, and whether it was accepted.
public struct TrainingSet: Sendable {
  /// The number of values in each example's customer vector.
  public let customerWidth: Int
  /// The number of values in each example's context vector.
  public let contextWidth: Int
  /// The examples' customer vectors, row-major: `customerValues[example * customerWidth + feature]`; NaN is missing.
  public private(set) var customerValues: [Float] = []
  /// The examples' context vectors, row-major: `contextValues[example * contextWidth + feature]`; NaN is missing.
  public private(set) var contextValues: [Float] = []
  /// Whether each example's offer was accepted.
  public private(set) var labels: [Bool] = []
  /// The customer each example belongs to: the hold-out split is by customer, never by row.
  public private(set) var groups: [UInt64] = []
  /// Each example's weight in the fit (1 unless given; e.g. the inverse of the probability a
  /// logged policy showed the offer with, for unbiased learning from an exploring policy).
  public private(set) var weights: [Double] = []

  /// An empty training set for vectors of these widths.
  public init(customerWidth: Int, contextWidth: Int) {
    self.customerWidth = customerWidth
    self.contextWidth = contextWidth
  }

  /// The number of examples.
  public var count: Int { labels.count }

  /// Adds an example; the vectors must have the set's widths and the weight be positive (preconditions).
  public mutating func append(
    customer: some Collection<Float>, context: some Collection<Float>, label: Bool, group: UInt64, weight: Double = 1
  ) {
    precondition(customer.count == customerWidth && context.count == contextWidth && weight > 0 && weight.isFinite)
    weights.append(weight)
    customerValues.append(contentsOf: customer)
    contextValues.append(contentsOf: context)
    labels.append(label)
    groups.append(group)
  }
}
