import ArbiterCore
import Foundation

/// Generates the demo bank's customers deterministically from a seed. Customer `i` (id
/// 100000 + i) depends only on the seed and `i`, so any prefix of the population is stable.
public struct DemoPopulation: Sendable {
  public static let firstCustomerId: UInt64 = 100_000
  public static let generatorName = "demo-bank"

  public let seed: UInt64
  public let schema = DemoBankSchema.schema

  public init(seed: UInt64) { self.seed = seed }

  static let firstNames = [
    "Ana", "Bruno", "Carla", "David", "Elena", "Filipe", "Grace", "Hugo", "Ines", "Joao", "Katarina", "Luis", "Marta",
    "Nuno", "Olivia", "Pedro", "Rita", "Samuel", "Teresa", "Vasco", "Wendy", "Xavier", "Yara", "Zeca", "Amira", "Ben",
    "Chloe", "Diego", "Emma", "Farid", "Gustavo", "Helena", "Ivan", "Julia", "Kofi", "Lea", "Miguel", "Nadia", "Omar", "Paula",
  ]
  static let lastNames = [
    "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins", "Jesus", "Sousa", "Fernandes",
    "Goncalves", "Gomes", "Lopes", "Marques", "Alves", "Almeida", "Ribeiro", "Pinto", "Carvalho", "Teixeira", "Moreira",
    "Correia", "Mendes", "Nunes", "Soares", "Vieira", "Monteiro", "Cardoso", "Rocha",
  ]

  /// All customers `0..<count`.
  public func customers(count: Int) -> [CustomerRecord] {
    (0..<count).map { customer(number: $0) }
  }

  /// Customer number `i`.
  public func customer(number i: Int) -> CustomerRecord {
    var rng = SeededGenerator(seed: SeededGenerator.mix(UInt64(i), salt: seed))
    let f = Features(schema: schema)
    var v = [Float](repeating: 0, count: schema.width)
    func set(_ name: String, _ value: Double) { v[f[name]] = Float(value) }
    func lognormal(_ median: Double, _ sigma: Double) -> Double { median * exp(sigma * rng.normal()) }
    func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * rng.uniform() }

    let stageDraw = rng.uniform()
    let stageCut = [0.08, 0.28, 0.58, 0.78, 0.90, 1.0]
    let stage = stageCut.firstIndex { stageDraw < $0 } ?? 5
    let ageRange: [(Double, Double)] = [(18, 25), (23, 35), (28, 50), (40, 60), (55, 66), (65, 90)]
    let age = uniform(ageRange[stage].0, ageRange[stage].1).rounded(.down)
    let medianIncome = [8.0, 38, 52, 65, 58, 30][stage]
    let income = (lognormal(medianIncome, 0.45) * 10).rounded() / 10
    let tenure = (uniform(0, min(age - 17, 40)) * 10).rounded() / 10
    let riskDraw = rng.uniform() + (income - 45) / 200 - (age - 45) / 150
    let risk = riskDraw < 0.45 ? 0 : (riskDraw < 0.8 ? 1 : 2)
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

    let hasCard = income >= 12 && rng.chance(0.6)
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
    var children = 0
    var oldest = 0.0
    switch stage {
    case 2: children = 1 + rng.below(3); oldest = max(0, min(age - 22, age - 30 + uniform(-6, 6))).rounded(.down)
    case 3, 4: if rng.chance(0.7) { children = 1 + rng.below(3); oldest = max(0, age - 30 + uniform(-6, 6)).rounded(.down) }
    case 5: if rng.chance(0.8) { children = 1 + rng.below(3); oldest = max(0, age - 30 + uniform(-6, 6)).rounded(.down) }
    default: break
    }
    set("num_children", Double(children))
    set("oldest_child_age", children > 0 ? oldest : 0)
    let youth = max(0, 1 - (age - 18) / 70)
    set("digital_logins_month", (lognormal(4 + 18 * youth, 0.6) * (rng.chance(0.12) ? 0.05 : 1)).rounded(.down))
    set("branch_visits_month", (rng.uniform() * 3 * (1.2 - youth)).rounded(.down))
    set("calls_month", Double(rng.below(4)))
    let leaving = rng.chance(0.08)
    set("balance_trend", ((leaving ? uniform(-0.5, -0.15) : 0.02 + 0.08 * rng.normal()) * 1000).rounded() / 1000)
    set("salary_change", ((rng.chance(0.1) ? uniform(0.03, 0.25) : 0) * 1000).rounded() / 1000)

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

    // Event-derived features, as they read at the moment the population describes.
    func poisson(_ mean: Double) -> Double {
      guard mean > 0 else { return 0 }
      var k = 0.0, p = 1.0
      let limit = exp(-min(mean, 500))
      repeat { k += 1; p *= rng.uniform() } while p > limit && k < 1_000
      return k - 1
    }
    let logins = Double(v[f["digital_logins_month"]])
    let branchVisits = Double(v[f["branch_visits_month"]])
    let cardCount = hasCard ? poisson(Double(v[f["card_spend_monthly"]]) / 45) : 0
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
    set("txn_out_amount_30d", (Double(v[f["card_spend_monthly"]]) + atmCount * 60 + onlineCount * 45 + branchCount * 120).rounded())
    set("txn_in_amount_30d", (phoneCount * 20 + (rng.chance(0.3) ? uniform(20, 400) : 0)).rounded())
    set("days_since_txn", txnCount > 0 ? (uniform(0, 30 / (txnCount + 1)) * 10).rounded() / 10 : (uniform(30, 120)).rounded())
    let pageViews = poisson(logins * 0.25 * 1.5)
    set("page_views_7d", pageViews)
    set("days_since_page_view", logins > 0 ? (uniform(0, 30 / (logins + 1)) * 10).rounded() / 10 : uniform(30, 365).rounded())
    let calls = Double(v[f["calls_month"]])
    set("calls_30d", calls)
    set("days_since_call", calls > 0 ? (uniform(0, 30 / calls) * 10).rounded() / 10 : uniform(30, 365).rounded())
    let transfersOut = poisson(2) + (leaving ? 1 + poisson(1) : 0)
    set("transfers_out_30d", transfersOut)
    let largeOut = leaving ? uniform(5_000, 40_000) : 0
    set("transfer_out_amount_30d", (transfersOut * uniform(50, 600) + largeOut).rounded())
    let salaried = stage != 0 && stage != 5
    set("transfer_in_amount_30d", salaried ? (income * 1000 / 12 * (1 + Double(v[f["salary_change"]]))).rounded() : (income * 1000 / 12 * 0.5).rounded())
    set("days_since_transfer", (uniform(0, 15) * 10).rounded() / 10)
    set("churn_risk", leaving || rng.chance(0.01) ? 1 : 0)
    v[f["clock"]] = .nan
    v[f["checking_balance_ewma"]] = .nan

    let name = Self.firstNames[rng.below(Self.firstNames.count)] + " " + Self.lastNames[rng.below(Self.lastNames.count)]
    return CustomerRecord(id: Self.firstCustomerId + UInt64(i), displayName: name, values: v)
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
