import ArbiterCore
import Foundation

/// Generates the demo bank's customers deterministically from a seed. Customer `i` (id
/// 100000 + i) depends only on the seed and `i`, so any prefix of the population is stable.
public struct DemoPopulation: Sendable {
  /// The id of the population's first customer; the others follow one by one.
  public static let firstCustomerId: UInt64 = 100_000
  /// The generator's name in a bundle manifest's population.
  public static let generatorName = "demo-bank"

  /// The seed every customer is drawn from.
  public let seed: UInt64
  /// The schema the customers are laid out by.
  public let schema = DemoBankSchema.schema

  /// The population drawn from `seed`.
  public init(seed: UInt64) { self.seed = seed }

  static let firstNames = [
    "Ana", "Bruno", "Carla", "David", "Elena", "Filipe", "Grace", "Hugo", "Ines", "Joao", "Katarina", "Luis", "Marta",
    "Nuno", "Olivia", "Pedro", "Rita", "Samuel", "Teresa", "Vasco", "Wendy", "Xavier", "Yara", "Zeca", "Amira", "Ben",
    "Chloe", "Diego", "Emma", "Farid", "Gustavo", "Helena", "Ivan", "Julia", "Kofi", "Lea", "Miguel", "Nadia", "Omar",
    "Paula",
  ]
  static let lastNames = [
    "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins", "Jesus", "Sousa",
    "Fernandes",
    "Goncalves", "Gomes", "Lopes", "Marques", "Alves", "Almeida", "Ribeiro", "Pinto", "Carvalho", "Teixeira", "Moreira",
    "Correia", "Mendes", "Nunes", "Soares", "Vieira", "Monteiro", "Cardoso", "Rocha",
  ]

  /// All customers `0..<count`.
  public func customers(count: Int) -> [CustomerRecord] {
    (0..<count).map { customer(number: $0) }
  }

  /// Customer number `i`, drawn in stages from one generator (the order of the draws is the
  /// population's definition: changing it changes every customer).
  public func customer(number i: Int) -> CustomerRecord {
    var draw = CustomerDraw(
      rng: SeededGenerator(seed: SeededGenerator.mix(UInt64(i), salt: seed)), f: Features(schema: schema),
      v: [Float](repeating: 0, count: schema.width))
    draw.drawProfile()
    draw.drawCardAndMortgage()
    draw.drawFamilyAndEngagement()
    draw.drawConsentsAndHoldings()
    draw.drawTransactions()
    draw.drawTransfers()
    let name =
      Self.firstNames[draw.rng.below(Self.firstNames.count)] + " "
      + Self.lastNames[draw.rng.below(Self.lastNames.count)]
    return CustomerRecord(id: Self.firstCustomerId + UInt64(i), displayName: name, values: draw.v)
  }

  /// One customer being drawn: the generator, the feature vector, and what later stages read of
  /// earlier ones.
  struct CustomerDraw {
    var rng: SeededGenerator
    let f: Features
    var v: [Float]
    var stage = 0
    var age = 0.0
    var income = 0.0
    var risk = 0
    var hasCard = false
    var children = 0
    var oldest = 0.0
    var youth = 0.0
    var leaving = false

    mutating func set(_ name: String, _ value: Double) { v[f[name]] = Float(value) }
    mutating func lognormal(_ median: Double, _ sigma: Double) -> Double { median * exp(sigma * rng.normal()) }
    mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * rng.uniform() }
    func value(_ name: String) -> Double { Double(v[f[name]]) }

    /// Life stage, age, income, tenure, risk appetite and balances.
    mutating func drawProfile() {
      let stageDraw = rng.uniform()
      let stageCut = [0.08, 0.28, 0.58, 0.78, 0.90, 1.0]
      stage = stageCut.firstIndex { stageDraw < $0 } ?? 5
      let ageRange: [(Double, Double)] = [(18, 25), (23, 35), (28, 50), (40, 60), (55, 66), (65, 90)]
      age = uniform(ageRange[stage].0, ageRange[stage].1).rounded(.down)
      let medianIncome = [8.0, 38, 52, 65, 58, 30][stage]
      income = (lognormal(medianIncome, 0.45) * 10).rounded() / 10
      let tenure = (uniform(0, min(age - 17, 40)) * 10).rounded() / 10
      let riskDraw = rng.uniform() + (income - 45) / 200 - (age - 45) / 150
      risk = riskDraw < 0.45 ? 0 : (riskDraw < 0.8 ? 1 : 2)
      let checking = (income * 1000 * uniform(0.03, 0.25) * exp(0.4 * rng.normal())).rounded()
      let savings = (income * 1000 * lognormal(0.35, 0.9)).rounded()
      let investments = risk == 0 ? 0 : (income * 1000 * lognormal(0.2, 1.0) * Double(risk)).rounded()

      set("age", age)
      set("income", income)
      set("tenure_years", tenure)
      set("checking_balance", checking)
      set("savings_balance", savings)
      set("investment_balance", investments)
      set("risk_appetite", Double(risk))
      set("life_stage", Double(stage))
      set("income_band", income < 20 ? 0 : (income < 45 ? 1 : (income < 90 ? 2 : 3)))
    }

    /// A credit card and its spending; a mortgage.
    mutating func drawCardAndMortgage() {
      hasCard = income >= 12 && rng.chance(0.6)
      set("holds_credit_card", hasCard ? 1 : 0)
      if hasCard {
        set("card_spend_monthly", (income * 1000 / 12 * 0.15 * lognormal(1, 0.5)).rounded())
        let traveller = rng.chance(0.15 + (income - 40) / 400)
        set("card_spend_abroad_share", ((traveller ? uniform(0.1, 0.5) : uniform(0, 0.06)) * 1000).rounded() / 1000)
        set("holds_premium_card", income > 70 && rng.chance(0.35) ? 1 : 0)
      }
      let mortgageProbability = [0.0, 0.15, 0.5, 0.55, 0.4, 0.1][stage]
      if income >= 25 && rng.chance(mortgageProbability) {
        set("holds_mortgage", 1)
        set("mortgage_balance", (uniform(40_000, 380_000) * min(1.6, income / 50)).rounded(.down))
        set("mortgage_rate", (uniform(1.5, 5.8) * 100).rounded() / 100)
      }
    }

    /// Children; how the customer uses the bank's channels; whether they are leaving.
    mutating func drawFamilyAndEngagement() {
      switch stage {
      case 2: children = 1 + rng.below(3); oldest = max(0, min(age - 22, age - 30 + uniform(-6, 6))).rounded(.down)
      case 3, 4:
        if rng.chance(0.7) { children = 1 + rng.below(3); oldest = max(0, age - 30 + uniform(-6, 6)).rounded(.down) }
      case 5:
        if rng.chance(0.8) { children = 1 + rng.below(3); oldest = max(0, age - 30 + uniform(-6, 6)).rounded(.down) }
      default: break
      }
      set("num_children", Double(children))
      set("oldest_child_age", children > 0 ? oldest : 0)
      youth = max(0, 1 - (age - 18) / 70)
      set("digital_logins_month", (lognormal(4 + 18 * youth, 0.6) * (rng.chance(0.12) ? 0.05 : 1)).rounded(.down))
      set("branch_visits_month", (rng.uniform() * 3 * (1.2 - youth)).rounded(.down))
      set("calls_month", Double(rng.below(4)))
      leaving = rng.chance(0.08)
      set("balance_trend", ((leaving ? uniform(-0.5, -0.15) : 0.02 + 0.08 * rng.normal()) * 1000).rounded() / 1000)
      set("salary_change", ((rng.chance(0.1) ? uniform(0.03, 0.25) : 0) * 1000).rounded() / 1000)
    }

    /// Marketing consents, and the products held.
    mutating func drawConsentsAndHoldings() {
      set("consent_marketing", rng.chance(0.88) ? 1 : 0)
      set("consent_email", rng.chance(0.7) ? 1 : 0)
      set("consent_sms", rng.chance(0.5) ? 1 : 0)
      set("consent_phone", rng.chance(0.62) ? 1 : 0)
      set("consent_digital", rng.chance(0.78) ? 1 : 0)

      let holdings: [(String, Double)] = [
        ("personal_loan", 0.08), ("student_loan", children > 0 && oldest >= 17 ? 0.1 : 0), ("car_lease", 0.06),
        ("life_insurance", children > 0 ? 0.25 : 0.06), ("home_insurance", v[f["holds_mortgage"]] == 1 ? 0.4 : 0),
        ("travel_insurance", 0.1), ("growth_fund", risk == 2 ? 0.2 : 0.03), ("savings_bundle", 0.1),
        ("premium_account", income > 60 ? 0.2 : 0), ("bill_pay", 0.3), ("pension_plan", age > 30 ? 0.25 : 0.05),
        ("kids_savings", children > 0 ? 0.2 : 0), ("overdraft", 0.2), ("fx_wallet", 0.05), ("green_loan", 0.02),
      ]
      for (product, probability) in holdings where rng.chance(probability) { set("holds_\(product)", 1) }
      let held = DemoBankSchema.products.reduce(0) { $0 + Int(v[f["holds_\($1)"]]) }
      set("num_products", Double(1 + held))
    }

    mutating func poisson(_ mean: Double) -> Double {
      guard mean > 0 else { return 0 }
      var k = 0.0, p = 1.0
      let limit = exp(-min(mean, 500))
      repeat { k += 1; p *= rng.uniform() } while p > limit && k < 1_000
      return k - 1
    }

    /// Event-derived transaction, page-view and call features, as they read at the moment the
    /// population describes.
    mutating func drawTransactions() {
      let logins = value("digital_logins_month")
      let branchVisits = value("branch_visits_month")
      let cardCount = hasCard ? poisson(value("card_spend_monthly") / 45) : 0
      let atmCount = poisson(2 + 3 * (1 - youth))
      let branchCount = poisson(branchVisits * 0.8)
      let onlineCount = poisson(logins * 0.4)
      let phoneCount = poisson(0.3)
      set("card_txn_30d", cardCount)
      set("atm_txn_30d", atmCount)
      set("branch_txn_30d", branchCount)
      set("online_txn_30d", onlineCount)
      set("phone_txn_30d", phoneCount)
      let txnCount = cardCount + atmCount + branchCount + onlineCount + phoneCount
      set("txn_count_30d", txnCount)
      let outAmount = value("card_spend_monthly") + atmCount * 60 + onlineCount * 45 + branchCount * 120
      set("txn_out_amount_30d", outAmount.rounded())
      set("txn_in_amount_30d", (phoneCount * 20 + (rng.chance(0.3) ? uniform(20, 400) : 0)).rounded())
      let sinceTxn = txnCount > 0 ? (uniform(0, 30 / (txnCount + 1)) * 10).rounded() / 10 : (uniform(30, 120)).rounded()
      set("days_since_txn", sinceTxn)
      let pageViews = poisson(logins * 0.25 * 1.5)
      set("page_views_7d", pageViews)
      let sinceView = logins > 0 ? (uniform(0, 30 / (logins + 1)) * 10).rounded() / 10 : uniform(30, 365).rounded()
      set("days_since_page_view", sinceView)
      let calls = value("calls_month")
      set("calls_30d", calls)
      set("days_since_call", calls > 0 ? (uniform(0, 30 / calls) * 10).rounded() / 10 : uniform(30, 365).rounded())
    }

    /// Event-derived transfer features and churn; the event clock and moving averages start unset.
    mutating func drawTransfers() {
      let transfersOut = poisson(2) + (leaving ? 1 + poisson(1) : 0)
      set("transfers_out_30d", transfersOut)
      let largeOut = leaving ? uniform(5_000, 40_000) : 0
      set("transfer_out_amount_30d", (transfersOut * uniform(50, 600) + largeOut).rounded())
      let salaried = stage != 0 && stage != 5
      let monthly = income * 1000 / 12
      let transferIn = salaried ? (monthly * (1 + value("salary_change"))).rounded() : (monthly * 0.5).rounded()
      set("transfer_in_amount_30d", transferIn)
      set("days_since_transfer", (uniform(0, 15) * 10).rounded() / 10)
      set("churn_risk", leaving || rng.chance(0.01) ? 1 : 0)
      v[f["clock"]] = .nan
      v[f["checking_balance_ewma"]] = .nan
    }
  }

  /// Name → index, resolved once per customer batch.
  struct Features {
    let indices: [String: Int]
    init(schema: FeatureSchema) {
      indices = Dictionary(uniqueKeysWithValues: schema.customerFeatures.enumerated().map { ($1.name, $0) })
    }
    subscript(_ name: String) -> Int { indices[name]! }
  }
}
