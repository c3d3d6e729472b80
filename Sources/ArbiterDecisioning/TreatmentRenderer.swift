import ArbiterCore

/// A treatment template compiled against the schema: placeholders resolved to feature indices
/// once, at load. A class: a decision reads it through one reference.
public final class CompiledTemplate: Sendable {
  enum Segment: Sendable {
    case literal(String)
    case firstName
    case fullName
    case offerName
    case feature(Int)
  }
  let segments: [Segment]
  /// The text when the template has no placeholder.
  let constant: String?
  /// Whether the template says the customer's name.
  public let usesNames: Bool

  /// Compiles `text`; `{first_name}`, `{name}`, `{offer}` and `{feature:NAME}` are placeholders.
  public init(_ text: String, schema: FeatureSchema, what: String) throws(ArbiterError) {
    var segments: [Segment] = []
    var rest = Substring(text)
    while let open = rest.firstIndex(of: "{") {
      if open > rest.startIndex { segments.append(.literal(String(rest[..<open]))) }
      guard let close = rest[open...].firstIndex(of: "}") else {
        throw ArbiterError(.invalidArgument, "\(what): unclosed '{' in template \"\(text)\"")
      }
      let name = rest[rest.index(after: open)..<close]
      switch name {
      case "first_name": segments.append(.firstName)
      case "name": segments.append(.fullName)
      case "offer": segments.append(.offerName)
      default:
        guard name.hasPrefix("feature:") else {
          throw ArbiterError(.invalidArgument, "\(what): unknown placeholder '{\(name)}' in template \"\(text)\"")
        }
        let feature = String(name.dropFirst("feature:".count))
        guard let index = schema.customerIndex(of: feature) else {
          throw ArbiterError(
            .invalidArgument, "\(what): placeholder '{\(name)}' names feature '\(feature)', which the schema lacks")
        }
        segments.append(.feature(index))
      }
      rest = rest[rest.index(after: close)...]
    }
    if !rest.isEmpty { segments.append(.literal(String(rest))) }
    self.segments = segments
    usesNames = segments.contains {
      if case .firstName = $0 { true } else if case .fullName = $0 { true } else { false }
    }
    switch segments.count {
    case 0: constant = ""
    case 1: if case .literal(let text) = segments[0] { constant = text } else { constant = nil }
    default: constant = nil
    }
  }

  /// Fills the template for one customer.
  public func render(displayName: String, offerName: String, customer: UnsafeBufferPointer<Float>?) -> String {
    render(names: TemplateNames(displayName: displayName), offerName: offerName, customer: customer)
  }

  /// Fills the template for one customer whose names are worked out once per decision.
  public func render(names: TemplateNames, offerName: String, customer: UnsafeBufferPointer<Float>?) -> String {
    if let constant { return constant }
    var text = ""
    for segment in segments {
      switch segment {
      case .literal(let literal): text += literal
      case .firstName: text += names.firstName
      case .fullName: text += names.fullName
      case .offerName: text += offerName
      case .feature(let index):
        guard let customer, !customer[index].isNaN else { text += "—"; continue }
        let value = customer[index]
        text += value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String(format2(value))
      }
    }
    return text
  }

  private func format2(_ value: Float) -> String {
    let scaled = (Double(value) * 100).rounded() / 100
    return String(scaled)
  }
}

/// A customer's names as templates say them, worked out once per decision (and only when a
/// template asks for them).
public struct TemplateNames {
  let displayName: String

  /// Names from the customer's display name (empty for an anonymous visitor).
  public init(displayName: String) { self.displayName = displayName }

  /// The first word of the display name, or "there".
  var firstName: String { displayName.split(separator: " ").first.map(String.init) ?? "there" }
  /// The display name, or "valued customer".
  var fullName: String { displayName.isEmpty ? "valued customer" : displayName }
}
