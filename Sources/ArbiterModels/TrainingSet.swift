import ArbiterCore

/// Labelled examples for one offer: the customer's vector and the interaction's context vector
/// at the time the offer was made, and whether it was accepted.
public struct TrainingSet: Sendable {
  public let customerWidth: Int
  public let contextWidth: Int
  public private(set) var customerValues: [Float] = []
  public private(set) var contextValues: [Float] = []
  public private(set) var labels: [Bool] = []
  /// The customer each example belongs to: the hold-out split is by customer, never by row.
  public private(set) var groups: [UInt64] = []

  public init(customerWidth: Int, contextWidth: Int) {
    self.customerWidth = customerWidth
    self.contextWidth = contextWidth
  }

  public var count: Int { labels.count }

  public mutating func append(customer: some Collection<Float>, context: some Collection<Float>, label: Bool, group: UInt64) {
    precondition(customer.count == customerWidth && context.count == contextWidth)
    customerValues.append(contentsOf: customer)
    contextValues.append(contentsOf: context)
    labels.append(label)
    groups.append(group)
  }
}
