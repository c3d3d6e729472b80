import ArbiterCore
import Foundation

/// The feature schema of the demo bank's customers.
public enum DemoBankSchema {
  public static let riskLevels = ["low", "medium", "high"]
  public static let lifeStages = ["student", "young-professional", "family", "established", "pre-retirement", "retired"]
  public static let incomeBands = ["low", "middle", "upper-middle", "high"]
  /// Products a customer can hold, each a `holds_<product>` boolean feature.
  public static let products = [
    "credit_card", "premium_card", "mortgage", "personal_loan", "student_loan", "car_lease", "life_insurance",
    "home_insurance", "travel_insurance", "growth_fund", "savings_bundle", "premium_account", "bill_pay",
    "pension_plan", "kids_savings", "overdraft", "fx_wallet", "green_loan",
  ]
  public static let consentChannels: [(feature: String, channels: [Channel])] = [
    ("consent_marketing", [.branch, .atm]),
    ("consent_email", [.email]),
    ("consent_sms", [.sms]),
    ("consent_phone", [.contactCentre]),
    ("consent_digital", [.web, .mobileApp]),
  ]

  public static let schema: FeatureSchema = {
    func numeric(_ name: String, _ description: String) -> FeatureDefinition {
      FeatureDefinition(name: name, kind: .numeric, description: description)
    }
    var features: [FeatureDefinition] = [
      numeric("age", "age in years"),
      numeric("income", "annual income, thousands"),
      numeric("tenure_years", "years as a customer"),
      numeric("checking_balance", "current account balance"),
      numeric("savings_balance", "savings balance"),
      numeric("investment_balance", "investments held"),
      numeric("card_spend_monthly", "card spend per month"),
      numeric("card_spend_abroad_share", "share of card spend abroad (0-1)"),
      numeric("mortgage_balance", "outstanding mortgage"),
      numeric("mortgage_rate", "mortgage interest rate, percent (0 without a mortgage)"),
      numeric("num_children", "number of children"),
      numeric("oldest_child_age", "age of the oldest child (0 without children)"),
      numeric("num_products", "products held, current account included"),
      numeric("digital_logins_month", "online and app log-ins per month"),
      numeric("branch_visits_month", "branch visits per month"),
      numeric("calls_month", "calls to the contact centre per month"),
      numeric("balance_trend", "3-month relative change of the current account balance"),
      numeric("salary_change", "relative change of the last salary payment"),
      FeatureDefinition(name: "risk_appetite", kind: .categorical(levels: riskLevels), description: "investment risk appetite"),
      FeatureDefinition(name: "life_stage", kind: .categorical(levels: lifeStages), description: "life stage"),
      FeatureDefinition(name: "income_band", kind: .categorical(levels: incomeBands), description: "income band"),
    ]
    for (feature, channels) in consentChannels {
      features.append(FeatureDefinition(name: feature, kind: .boolean, description: "marketing consent for \(channels.map(\.name).joined(separator: ", "))"))
    }
    for product in products {
      features.append(FeatureDefinition(name: "holds_\(product)", kind: .boolean, description: "holds \(product.replacingOccurrences(of: "_", with: " "))"))
    }
    return FeatureSchema(
      customerFeatures: features,
      contextFeatures: [
        FeatureDefinition(name: "channel", kind: .categorical(levels: Channel.allCases.map(\.name)), description: "channel of the interaction")
      ])
  }()
}
