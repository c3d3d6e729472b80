import ArbiterCore
import Foundation

/// The feature schema of the demo bank's customers.
public enum DemoBankSchema {
  /// The levels of the categorical `risk_appetite` feature, lowest first.
  public static let riskLevels = ["low", "medium", "high"]
  /// The levels of the categorical `life_stage` feature, youngest first.
  public static let lifeStages = [
    "student", "young-professional", "family", "established", "pre-retirement", "retired",
  ]
  /// The levels of the categorical `income_band` feature, lowest first.
  public static let incomeBands = ["low", "middle", "upper-middle", "high"]
  /// Products a customer can hold, each a `holds_<product>` boolean feature.
  public static let products = [
    "credit_card", "premium_card", "mortgage", "personal_loan", "student_loan", "car_lease", "life_insurance",
    "home_insurance", "travel_insurance", "growth_fund", "savings_bundle", "premium_account", "bill_pay",
    "pension_plan", "kids_savings", "overdraft", "fx_wallet", "green_loan",
  ]
  /// What an agent reads for each product held.
  static let productNames: [String: String] = [
    "credit_card": "Credit card", "premium_card": "Premium card", "mortgage": "Mortgage",
    "personal_loan": "Personal loan",
    "student_loan": "Student loan", "car_lease": "Car lease", "life_insurance": "Life insurance",
    "home_insurance": "Home insurance", "travel_insurance": "Travel insurance", "growth_fund": "Growth fund",
    "savings_bundle": "Savings bundle", "premium_account": "Premium account", "bill_pay": "Bill pay",
    "pension_plan": "Pension plan", "kids_savings": "Kids' savings", "overdraft": "Overdraft", "fx_wallet": "FX wallet",
    "green_loan": "Green loan",
  ]
  /// The features an agent's customer view shows, with their labels (in schema order there).
  static let profileLabels: [String: String] = [
    "age": "Age", "income": "Annual income (thousands)", "tenure_years": "Years as a customer",
    "checking_balance": "Current account balance", "savings_balance": "Savings", "investment_balance": "Investments",
    "mortgage_balance": "Mortgage outstanding", "num_children": "Children", "risk_appetite": "Risk appetite",
    "life_stage": "Life stage", "income_band": "Income band", "churn_risk": "Large transfer out (30 days)",
    "days_since_call": "Days since last call",
  ]
  /// Each boolean consent feature and the channels whose marketing it grants.
  public static let consentChannels: [(feature: String, channels: [Channel])] = [
    ("consent_marketing", [.branch, .atm]),
    ("consent_email", [.email]),
    ("consent_sms", [.sms]),
    ("consent_phone", [.contactCentre]),
    ("consent_digital", [.web, .mobileApp]),
  ]

  /// The consents the demo bank's customers gave, as their consent features say: marketing on
  /// each channel given or withdrawn as the feature granting it is 1 or 0 (not recorded when
  /// missing), and service and profiling given on every channel. The demo population is seeded
  /// with these (``DemoPopulation/seed(_:bundle:customers:nowDays:)``); offline tools that read
  /// vectors without a store use them directly.
  public static func consents(of customer: UnsafeBufferPointer<Float>, schema: FeatureSchema) -> ConsentSet {
    var set = ConsentSet.none
    for (feature, channels) in consentChannels {
      guard let index = schema.customerIndex(of: feature), !customer[index].isNaN else { continue }
      for channel in channels { set.set(customer[index] == 1 ? .given : .withdrawn, channel, .marketing) }
    }
    for channel in Channel.allCases {
      set.set(.given, channel, .service)
      set.set(.given, channel, .profiling)
    }
    return set
  }

  /// Features kept current by real-time events (transactions, page views, calls, transfers).
  public static let eventFeatures: [FeatureDefinition] = {
    // Counts, sums and days since are never negative.
    func derived(
      _ name: String, _ description: String, _ derive: FeatureDerivation, kind: FeatureKind = .numeric
    ) -> FeatureDefinition {
      let neverNegative: Set<FeatureDerivation.Kind> = [.count, .sum, .recency]
      return FeatureDefinition(
        name: name, kind: kind, description: description, derive: derive,
        minimum: neverNegative.contains(derive.kind) ? 0 : nil)
    }
    func count(
      _ name: String, _ event: String, channel: String? = nil, direction: String? = nil, halfLife: Double = 30
    ) -> FeatureDefinition {
      let via = channel.map { " via \($0)" } ?? "", facing = direction.map { " (\($0))" } ?? ""
      return derived(
        name,
        "\(event)s\(via)\(facing), decayed with a \(Int(halfLife))-day half-life",
        FeatureDerivation(kind: .count, event: event, channel: channel, direction: direction, halfLifeDays: halfLife))
    }
    return [
      derived(
        "clock", "days since the newest event applied (stored as its time; internal)", FeatureDerivation(kind: .clock)),
      count("txn_count_30d", "transaction"),
      derived(
        "txn_out_amount_30d", "money spent, 30-day half-life",
        FeatureDerivation(kind: .sum, event: "transaction", direction: "out", halfLifeDays: 30)),
      derived(
        "txn_in_amount_30d", "money received by transaction, 30-day half-life",
        FeatureDerivation(kind: .sum, event: "transaction", direction: "in", halfLifeDays: 30)),
      count("atm_txn_30d", "transaction", channel: "atm"),
      count("branch_txn_30d", "transaction", channel: "branch"),
      count("card_txn_30d", "transaction", channel: "card"),
      count("online_txn_30d", "transaction", channel: "online"),
      count("phone_txn_30d", "transaction", channel: "phone"),
      derived(
        "days_since_txn", "days since the last transaction", FeatureDerivation(kind: .recency, event: "transaction")),
      count("page_views_7d", "page_view", halfLife: 7),
      derived(
        "days_since_page_view", "days since the last page view", FeatureDerivation(kind: .recency, event: "page_view")),
      count("calls_30d", "call"),
      derived(
        "days_since_call", "days since the last call to the contact centre",
        FeatureDerivation(kind: .recency, event: "call")),
      count("transfers_out_30d", "transfer", direction: "out"),
      derived(
        "transfer_out_amount_30d", "money transferred out, 30-day half-life",
        FeatureDerivation(kind: .sum, event: "transfer", direction: "out", halfLifeDays: 30)),
      derived(
        "transfer_in_amount_30d", "money transferred in (salary and more), 30-day half-life",
        FeatureDerivation(kind: .sum, event: "transfer", direction: "in", halfLifeDays: 30)),
      derived(
        "days_since_transfer", "days since the last transfer", FeatureDerivation(kind: .recency, event: "transfer")),
      derived(
        "churn_risk", "a large outgoing transfer (5,000 or more) in the last 30 days",
        FeatureDerivation(kind: .trigger, event: "transfer", direction: "out", threshold: 5_000, expiresAfterDays: 30),
        kind: .boolean),
      derived(
        "checking_balance_ewma", "30-day moving average of the current account balance (internal)",
        FeatureDerivation(kind: .state)),
    ]
  }()

  /// The demo bank's full schema: static attributes, consent and `holds_<product>` flags, event-derived features, and
  /// the `channel` context feature.
  public static let schema: FeatureSchema = {
    /// A numeric feature valid from `minimum` to `maximum`, as true of a retail bank's customers.
    func numeric(
      _ name: String, _ description: String, _ minimum: Double? = 0, _ maximum: Double? = nil
    ) -> FeatureDefinition {
      FeatureDefinition(name: name, kind: .numeric, description: description, minimum: minimum, maximum: maximum)
    }
    var features: [FeatureDefinition] = [
      numeric("age", "age in years", 18, 120),
      numeric("income", "annual income, thousands"),
      numeric("tenure_years", "years as a customer", 0, 120),
      // Overdrawn at most by a million: anything below is a data error, not a customer.
      FeatureDefinition(
        name: "checking_balance", kind: .numeric, description: "current account balance",
        derive: .init(kind: .balance, event: "transaction"), minimum: -1_000_000),
      numeric("savings_balance", "savings balance"),
      numeric("investment_balance", "investments held"),
      numeric("card_spend_monthly", "card spend per month"),
      numeric("card_spend_abroad_share", "share of card spend abroad (0-1)", 0, 1),
      numeric("mortgage_balance", "outstanding mortgage"),
      numeric("mortgage_rate", "mortgage interest rate, percent (0 without a mortgage)", 0, 30),
      numeric("num_children", "number of children", 0, 30),
      numeric("oldest_child_age", "age of the oldest child (0 without children)", 0, 110),
      numeric("num_products", "products held, current account included", 1),
      numeric("digital_logins_month", "online and app log-ins per month"),
      numeric("branch_visits_month", "branch visits per month"),
      numeric("calls_month", "calls to the contact centre per month"),
      FeatureDefinition(
        name: "balance_trend", kind: .numeric,
        description: "relative change of the current account balance against its 30-day moving average",
        derive: .init(kind: .trend, halfLifeDays: 30, source: "checking_balance", state: "checking_balance_ewma")),
      numeric("salary_change", "relative change of the last salary payment", -1),
      FeatureDefinition(
        name: "risk_appetite", kind: .categorical(levels: riskLevels), description: "investment risk appetite"),
      FeatureDefinition(name: "life_stage", kind: .categorical(levels: lifeStages), description: "life stage"),
      FeatureDefinition(name: "income_band", kind: .categorical(levels: incomeBands), description: "income band"),
    ]
    for (feature, channels) in consentChannels {
      features.append(
        FeatureDefinition(
          name: feature, kind: .boolean,
          description: "marketing consent for \(channels.map(\.name).joined(separator: ", "))"))
    }
    for product in products {
      features.append(
        FeatureDefinition(
          name: "holds_\(product)", kind: .boolean,
          description: "holds \(product.replacingOccurrences(of: "_", with: " "))",
          profile: FeatureProfile(label: productNames[product]!, product: product)))
    }
    features.append(contentsOf: eventFeatures)
    for (i, feature) in features.enumerated() {
      if let label = profileLabels[feature.name] { features[i].profile = FeatureProfile(label: label) }
    }
    return FeatureSchema(
      customerFeatures: features,
      contextFeatures: [
        FeatureDefinition(
          name: "channel", kind: .categorical(levels: Channel.allCases.map(\.name)),
          description: "channel of the interaction")
      ])
  }()
}
