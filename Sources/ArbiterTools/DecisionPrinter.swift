import ArbiterAPI
import ArbiterCore
import ArbiterService
import Foundation

/// Text renderings of decisions and profiles for the terminal.
enum DecisionPrinter {
  static func percent(_ p: Double) -> String { String(format: "%.1f%%", p * 100) }

  static func channelName(_ channel: Arbiter_V1_Channel) -> String {
    (try? Channel(proto: channel))?.name ?? "unknown"
  }

  static func render(_ response: Arbiter_V1_DecideResponse, profile: Arbiter_V1_CustomerProfile) -> String {
    var out = ""
    let v = response.versions
    let about = ([profile.displayName] + profile.attributes.prefix(2).map(\.value)).filter { !$0.isEmpty }
    out +=
      "Decision \(response.decisionID) for customer \(response.customerID) (\(about.joined(separator: ", "))) "
      + "on \(channelName(response.channel))\n"
    out +=
      "bundle \(v.bundleName)/\(v.bundleVersion), catalogue \(v.catalogueVersion), "
      + "decided in \(response.decisionNanos / 1000) µs\n"
    if response.offers.isEmpty { out += "\nNo eligible offer for this customer on this channel.\n" }
    for offer in response.offers {
      out += "\n\(offer.rank). \(offer.name)  [\(offer.offerID)]\n"
      let score = String(format: "%.2f", offer.score), value = String(format: "%.0f", offer.value)
      out += "   score \(score) = propensity \(percent(offer.propensity)) × value \(value)"
      if offer.contextWeight != 1 { out += " × context \(String(format: "%.2f", offer.contextWeight))" }
      if offer.lever != 1 { out += " × lever \(String(format: "%.2f", offer.lever))" }
      if offer.channelCost != 0 { out += " − cost \(String(format: "%.2f", offer.channelCost))" }
      if offer.shadowPrice != 0 { out += " − shadow price \(String(format: "%.2f", offer.shadowPrice))" }
      if offer.probability != 1 {
        out += "   (drawn with probability \(String(format: "%.3f", offer.probability)), \(response.exploration))"
      }
      out += "\n"
      if !offer.treatment.agentScript.isEmpty {
        out += "   Script: \"\(offer.treatment.agentScript)\"\n"
      } else {
        out += "   \(offer.treatment.title): \(offer.treatment.message)\n"
      }
      let reasons = offer.reasons.filter { $0.code != "CONTEXT_WEIGHT" }
        .map { "\($0.phrase) (\(String(format: "%+.2f", $0.contribution)))" }
      if !reasons.isEmpty { out += "   Why: \(reasons.joined(separator: "; "))\n" }
    }
    if !response.controls.isEmpty {
      out +=
        "\nHeld out (control group, logged for lift): \(response.controls.map(\.offerID).joined(separator: ", "))\n"
    }
    if !response.suppressed.isEmpty {
      out += "\nNot offered:\n"
      for s in response.suppressed {
        out += "   \(s.offerID.padding(toLength: 28, withPad: " ", startingAt: 0)) \(s.code): \(s.detail)\n"
      }
    }
    return out
  }

  static func render(_ profile: Arbiter_V1_CustomerProfile, features: Bool) -> String {
    var out = "Customer \(profile.customerID): \(profile.displayName)\n"
    out += profile.attributes.map { "\($0.label): \($0.value.isEmpty ? "—" : $0.value)" }.joined(separator: ", ") + "\n"
    out += "products: \(profile.products.map(\.name).joined(separator: ", "))\n"
    let consents = profile.consents.map { "\(channelName($0.channel)) \($0.granted ? "yes" : "no")" }
    out += "consent: \(consents.joined(separator: ", "))\n"
    if !profile.recentInteractions.isEmpty {
      out += "recent interactions:\n"
      for entry in profile.recentInteractions {
        let outcome = entry.outcome == .unspecified ? "offered" : "\(entry.outcome)"
        let reason = entry.declineReason.isEmpty ? "" : " (\(entry.declineReason))"
        out += "   \(entry.decisionID) \(entry.offerID) on \(channelName(entry.channel)): \(outcome)\(reason)\n"
      }
    }
    if features {
      for (name, value) in zip(profile.featureNames, profile.featureValues) { out += "   \(name) = \(value)\n" }
    }
    return out
  }
}
