import ArbiterCore
import Foundation

/// The demo bank's offer catalogue and the hidden truth of how its customers respond.
public enum DemoBankCatalogue {
  /// The version label of the demo catalogue (``CatalogueDocument/version``).
  public static let version = "demo-2026.11"

  /// Channel effects on the log-odds: a person asking converts best, an SMS worst.
  static let channelEffects: [String: Double] = [
    "web": 0, "mobile-app": 0.1, "contact-centre": 0.6, "branch": 0.75, "atm": -0.5, "email": -0.35, "sms": -0.6,
  ]
  static let all = Channel.allCases
  static let notAtmSms: [Channel] = [.web, .mobileApp, .contactCentre, .branch, .email]
  static let life = DemoBankSchema.lifeStages
  static let risk = DemoBankSchema.riskLevels

  struct Entry {
    var offer: OfferDefinition
    var truth: OfferTruth
  }

  // swiftlint:disable function_body_length
  static func entry(
    _ id: String, _ name: String, product: String, category: String, value: Double, channels: [Channel] = all,
    held: Bool = true, minAge: Int? = 18, maxAge: Int? = nil, conditions: [OfferCondition] = [],
    context: [String: Double] = [:], pitch: String, script: String, sms: String,
    intercept: Double, eligibility: String? = nil, suitability: String? = nil, quota: OfferQuota? = nil,
    fulfilledBy: Channel? = nil, capacityUnits: Double? = nil, truth: [TruthTerm],
    channelEffects extra: [String: Double] = [:]
  ) -> Entry {
    var treatments: [String: TreatmentTemplate] = [
      "default": TreatmentTemplate(title: name, message: pitch),
      "contact-centre": TreatmentTemplate(title: name, message: pitch, agentScript: script),
      "branch": TreatmentTemplate(title: name, message: pitch, agentScript: script),
      "email": TreatmentTemplate(
        title: "{first_name}, \(name.prefix(1).lowercased() + name.dropFirst()) for you",
        message: "Dear {first_name}, \(pitch.prefix(1).lowercased() + pitch.dropFirst())"),
      "sms": TreatmentTemplate(title: name, message: sms),
    ]
    treatments = treatments.filter { key, _ in key == "default" || channels.contains { $0.name == key } }
    var effects = channelEffects
    for (key, value) in extra { effects[key] = value }
    return Entry(
      offer: OfferDefinition(
        id: id, name: name, product: product, category: category, value: value, channels: channels,
        heldFeature: held ? "holds_\(product)" : nil, minAge: minAge, maxAge: maxAge, conditions: conditions,
        contextWeights: context, treatments: treatments, eligibility: eligibility, suitability: suitability,
        quota: quota, capacityUnits: capacityUnits, fulfilledBy: fulfilledBy),
      truth: OfferTruth(offerId: id, intercept: intercept, terms: truth, channelEffects: effects))
  }

  static let entries: [Entry] = [
    entry(
      "premium-card-upgrade", "Premium card upgrade", product: "premium_card", category: "cards", value: 180,
      conditions: [
        OfferCondition(feature: "holds_credit_card", op: .equal, value: 1, description: "needs an existing credit card")
      ],
      context: ["reason:travel": 1.4, "page:cards": 1.5, "reason:complaint": 0.3],
      pitch: "Upgrade to Premium: airport lounges, travel cover and no foreign fees.",
      script:
        "{first_name}, as you use your card a lot, Premium would give you lounge access and no foreign transaction "
        + "fees. Shall I upgrade it today?",
      sms: "{first_name}, upgrade to our Premium card: lounges and no foreign fees. Reply YES.",
      intercept: -3.1,
      truth: [
        .linear(feature: "card_spend_monthly", weight: 0.9, center: 600, width: 500),
        .linear(feature: "card_spend_abroad_share", weight: 0.8, center: 0.08, width: 0.1),
        .linear(feature: "income", weight: 0.4, center: 50, width: 30),
      ]),
    entry(
      "cashback-credit-card", "Cashback credit card", product: "credit_card", category: "cards", value: 120,
      conditions: [
        OfferCondition(
          feature: "income", op: .greaterOrEqual, value: 12, description: "income below the card's minimum of 12k")
      ],
      context: ["page:cards": 1.5, "reason:complaint": 0.3],
      pitch: "1% back on everything you buy, no annual fee.",
      script:
        "{first_name}, you could get 1% back on your everyday spending with our cashback card, with no annual fee. "
        + "Would you like to apply?",
      sms: "{first_name}, get 1% cashback on every purchase, no fee. Reply CARD.",
      intercept: -3.0,
      truth: [
        .bump(feature: "age", weight: 0.8, center: 33, width: 14),
        .linear(feature: "digital_logins_month", weight: 0.35, center: 10, width: 8),
        .linear(feature: "income", weight: 0.3, center: 45, width: 30),
      ]),
    entry(
      "mortgage-refinance", "Mortgage refinance at a lower rate", product: "mortgage_refinance", category: "mortgages",
      value: 900,
      channels: notAtmSms, held: false,
      conditions: [
        OfferCondition(feature: "holds_mortgage", op: .equal, value: 1, description: "needs an existing mortgage"),
        OfferCondition(
          feature: "mortgage_rate", op: .greaterOrEqual, value: 3.5,
          description: "current mortgage rate below 3.5%, refinancing would not save"),
      ],
      context: ["reason:mortgage-enquiry": 2.5, "page:mortgages": 1.8, "reason:complaint": 0.5],
      pitch: "Switch your mortgage to our current fixed rate and lower your monthly payment.",
      script:
        "{first_name}, your mortgage is at {feature:mortgage_rate}%. "
        + "Our current fixed rate is lower, which could cut your monthly payment. May I run the numbers with you?",
      sms: "{first_name}, you could pay less on your mortgage. Reply RATE for a call back.",
      intercept: -3.4,
      truth: [
        .linear(feature: "mortgage_rate", weight: 1.2, center: 4, width: 0.8),
        .linear(feature: "mortgage_balance", weight: 0.4, center: 200_000, width: 100_000),
      ]),
    entry(
      "first-home-mortgage", "First-home mortgage", product: "mortgage", category: "mortgages", value: 1500,
      channels: notAtmSms, minAge: 21, maxAge: 55,
      conditions: [OfferCondition(feature: "income", op: .greaterOrEqual, value: 25, description: "income below 25k")],
      context: ["reason:mortgage-enquiry": 2.5, "page:mortgages": 1.8, "reason:complaint": 0.3],
      pitch: "Buy your first home with a 90% mortgage and a free valuation.",
      script:
        "{first_name}, have you thought about buying a home? With your savings you may already have a deposit; "
        + "I can book you a free mortgage consultation.",
      sms: "{first_name}, ready for your own home? Reply HOME for a free mortgage consultation.",
      intercept: -4.4,
      truth: [
        .bump(feature: "age", weight: 1.4, center: 32, width: 7),
        .linear(feature: "savings_balance", weight: 0.6, center: 20_000, width: 20_000),
        .level(feature: "life_stage", weight: 0.6, code: 2),
      ]),
    entry(
      "student-loan-child", "Student loan for your child", product: "student_loan", category: "loans", value: 350,
      context: ["page:loans": 1.5, "reason:complaint": 0.3],
      pitch: "Help your child through university with a low-rate student loan.",
      script:
        "{first_name}, with a child heading towards university, our student loan has a low fixed rate and repayments "
        + "only after graduation. Shall I send the details?",
      sms: "{first_name}, university coming up? Our student loan has a low fixed rate. Reply STUDY.",
      intercept: -2.6, eligibility: "num_children >= 1 and oldest_child_age >= 15 and oldest_child_age <= 25",
      truth: [.bump(feature: "oldest_child_age", weight: 2.0, center: 18.5, width: 2.5)]),
    entry(
      "car-lease", "Car lease", product: "car_lease", category: "loans", value: 600, minAge: 21, maxAge: 75,
      conditions: [OfferCondition(feature: "income", op: .greaterOrEqual, value: 25, description: "income below 25k")],
      context: ["page:loans": 1.3, "reason:complaint": 0.3],
      pitch: "A new car for a fixed monthly price, insurance and servicing included.",
      script:
        "{first_name}, we can put you in a new car for one fixed monthly price, with insurance and servicing included. "
        + "Would a quote help?",
      sms: "{first_name}, a new car, one monthly price, all included. Reply CAR.",
      intercept: -3.8,
      truth: [
        .bump(feature: "age", weight: 0.8, center: 36, width: 12),
        .linear(feature: "income", weight: 0.5, center: 50, width: 30),
        .level(feature: "life_stage", weight: 0.5, code: 2),
      ]),
    entry(
      "life-insurance", "Life insurance", product: "life_insurance", category: "insurance", value: 400, maxAge: 65,
      context: ["reason:bereavement": 0, "reason:complaint": 0.3],
      pitch: "Protect your family with life cover from 9 a month.",
      script:
        "{first_name}, with {feature:num_children} children, life cover from 9 a month would protect them if the worst "
        + "happened. May I give you a quote?",
      sms: "{first_name}, protect your family with life cover from 9/month. Reply LIFE.",
      intercept: -3.6,
      truth: [
        .linear(feature: "num_children", weight: 0.7, center: 1, width: 1),
        .bump(feature: "age", weight: 0.8, center: 38, width: 10),
        .linear(feature: "mortgage_balance", weight: 0.3, center: 100_000, width: 100_000),
      ]),
    entry(
      "home-insurance", "Home insurance", product: "home_insurance", category: "insurance", value: 250,
      conditions: [
        OfferCondition(feature: "holds_mortgage", op: .equal, value: 1, description: "needs a mortgage with us")
      ],
      context: ["reason:mortgage-enquiry": 1.5, "reason:complaint": 0.3],
      pitch: "Buildings and contents cover, 15% off for mortgage customers.",
      script:
        "{first_name}, as a mortgage customer you get 15% off our buildings and contents cover. Shall I quote you?",
      sms: "{first_name}, 15% off home insurance for mortgage customers. Reply HOME.",
      intercept: -2.9,
      truth: [
        .linear(feature: "mortgage_balance", weight: 0.5, center: 150_000, width: 100_000),
        .step(feature: "tenure_years", weight: -0.6, atLeast: 5),
      ]),
    entry(
      "travel-insurance", "Annual travel insurance", product: "travel_insurance", category: "insurance", value: 90,
      context: ["reason:travel": 2.2, "page:travel": 2.0, "reason:complaint": 0.3],
      pitch: "Annual multi-trip travel cover for the whole family.",
      script:
        "{first_name}, I see you travel; our annual multi-trip cover protects every trip this year for one price. "
        + "Interested?",
      sms: "{first_name}, one price covers all your trips this year. Reply TRAVEL.",
      intercept: -3.3,
      truth: [
        .linear(feature: "card_spend_abroad_share", weight: 1.4, center: 0.08, width: 0.1),
        .linear(feature: "income", weight: 0.2, center: 45, width: 30),
      ]),
    entry(
      "growth-fund", "Stock-linked growth fund", product: "growth_fund", category: "investments", value: 500,
      channels: notAtmSms,
      context: ["page:savings": 1.6, "page:investments": 2.0, "reason:complaint": 0.3],
      pitch: "Grow your savings in a diversified global equity fund.",
      script:
        "{first_name}, you have money sitting in savings; our global equity fund has grown with the market over the "
        + "long run. Capital is at risk. Would you like our adviser to call?",
      sms: "{first_name}, put your savings to work in our growth fund. Capital at risk. Reply GROW.",
      intercept: -4.0, suitability: "risk_appetite in (\"medium\", \"high\") and age < 80",
      truth: [
        .level(feature: "risk_appetite", weight: 1.6, code: 2), .level(feature: "risk_appetite", weight: 0.6, code: 1),
        .linear(feature: "savings_balance", weight: 0.7, center: 30_000, width: 30_000),
        .linear(feature: "investment_balance", weight: 0.3, center: 10_000, width: 20_000),
      ]),
    entry(
      "savings-bundle", "Savings bundle", product: "savings_bundle", category: "savings", value: 150,
      context: ["page:savings": 1.6, "reason:complaint": 0.5],
      pitch: "An easy-access saver plus a 1-year fixed bond at a bonus rate.",
      script:
        "{first_name}, your current account balance could be earning more; "
        + "our savings bundle pairs easy access with a bonus fixed rate. Shall I open it?",
      sms: "{first_name}, earn more on your balance with our savings bundle. Reply SAVE.",
      intercept: -3.0,
      truth: [
        .linear(feature: "checking_balance", weight: 0.6, center: 5_000, width: 5_000),
        .linear(feature: "salary_change", weight: 0.8, center: 0.02, width: 0.08),
      ]),
    entry(
      "retention-rate-offer", "Loyalty rate offer", product: "retention", category: "retention", value: 300,
      channels: [.contactCentre, .branch, .email], held: false,
      conditions: [
        OfferCondition(
          feature: "churn_risk", op: .equal, value: 1,
          description: "no sign of the customer moving money away (no large outgoing transfer in 30 days)")
      ],
      context: ["reason:complaint": 2.5, "reason:close-account": 3.0],
      pitch: "A thank-you loyalty rate on your savings for the next 12 months.",
      script:
        "{first_name}, thank you for being with us {feature:tenure_years} years. "
        + "I can offer you a loyalty rate on your savings for the next 12 months.",
      sms: "",
      intercept: -2.2, quota: OfferQuota(limit: 500, period: .day),
      truth: [
        .linear(feature: "balance_trend", weight: -1.0, center: -0.2, width: 0.1),
        .linear(feature: "tenure_years", weight: 0.2, center: 8, width: 6),
        .linear(feature: "transfer_out_amount_30d", weight: 0.5, center: 10_000, width: 10_000),
      ]),
    entry(
      "bill-pay-switch", "Switch your bills to us", product: "bill_pay", category: "everyday", value: 60,
      context: ["page:home": 1.2, "reason:complaint": 0.3],
      pitch: "Move your direct debits to us in 5 minutes; we do the switching.",
      script:
        "{first_name}, we can move all your bills and direct debits over for you; it takes five minutes. "
        + "Shall we start?",
      sms: "{first_name}, we'll switch your bills for you in 5 minutes. Reply BILLS.",
      intercept: -3.0,
      truth: [
        .linear(feature: "digital_logins_month", weight: 0.4, center: 10, width: 8),
        .bump(feature: "age", weight: 0.5, center: 30, width: 12),
        .linear(feature: "page_views_7d", weight: 0.4, center: 3, width: 3),
      ]),
    entry(
      "premium-account", "Premium current account", product: "premium_account", category: "everyday", value: 350,
      conditions: [
        OfferCondition(
          feature: "income", op: .greaterOrEqual, value: 60, description: "income below the 60k Premium threshold")
      ],
      context: ["reason:complaint": 0.3],
      pitch: "A personal banker, worldwide travel cover and preferential rates.",
      script:
        "{first_name}, with your income you qualify for Premium banking: your own personal banker and worldwide travel "
        + "cover. May I tell you more?",
      sms: "{first_name}, you qualify for Premium banking. Reply PREMIUM.",
      intercept: -3.8,
      truth: [
        .linear(feature: "income", weight: 0.9, center: 80, width: 30),
        .linear(feature: "checking_balance", weight: 0.4, center: 8_000, width: 8_000),
      ]),
    entry(
      "personal-loan", "Personal loan", product: "personal_loan", category: "loans", value: 400, maxAge: 75,
      context: ["page:loans": 1.6, "reason:complaint": 0.3],
      pitch: "Borrow up to 25,000 at a fixed rate, decision in minutes.",
      script:
        "{first_name}, if you have plans coming up, you are pre-qualified for a personal loan at a fixed rate, "
        + "with a decision in minutes. Shall I check your rate?",
      sms: "{first_name}, you're pre-qualified for a personal loan. Reply LOAN.",
      intercept: -3.6,
      truth: [
        .linear(feature: "balance_trend", weight: -0.5, center: 0, width: 0.1),
        .linear(feature: "salary_change", weight: 0.5, center: 0, width: 0.1),
        .bump(feature: "age", weight: 0.6, center: 32, width: 12),
      ]),
    entry(
      "pension-top-up", "Pension top-up", product: "pension_plan", category: "investments", value: 450,
      channels: notAtmSms,
      minAge: 25, maxAge: 64,
      context: ["page:savings": 1.3, "reason:complaint": 0.3],
      pitch: "Boost your retirement with tax relief on every contribution.",
      script:
        "{first_name}, every contribution to a pension earns tax relief; "
        + "topping up now could make a real difference at retirement. Would a projection help?",
      sms: "{first_name}, get tax relief on pension top-ups. Reply PENSION.",
      intercept: -3.7,
      truth: [
        .bump(feature: "age", weight: 1.0, center: 52, width: 8),
        .linear(feature: "income", weight: 0.5, center: 50, width: 30),
      ]),
    entry(
      "kids-savings-account", "Children's savings account", product: "kids_savings", category: "savings", value: 80,
      conditions: [OfferCondition(feature: "num_children", op: .greaterOrEqual, value: 1, description: "no children")],
      context: ["page:savings": 1.3, "reason:complaint": 0.3],
      pitch: "A savings account for your children with a bonus rate until 18.",
      script:
        "{first_name}, our children's savings account pays a bonus rate until they turn 18. "
        + "Would you like to open one for your little ones?",
      sms: "{first_name}, start your kids' savings with a bonus rate. Reply KIDS.",
      intercept: -2.8,
      truth: [
        .linear(feature: "num_children", weight: 0.5, center: 1, width: 1),
        .linear(feature: "oldest_child_age", weight: -0.6, center: 8, width: 5),
      ]),
    entry(
      "digital-banking-onboarding", "Get started with mobile banking", product: "digital_banking", category: "service",
      value: 40,
      channels: [.contactCentre, .branch, .atm, .email, .sms], held: false,
      conditions: [
        OfferCondition(
          feature: "digital_logins_month", op: .lessThan, value: 2, description: "already uses online banking")
      ],
      context: ["reason:card-lost": 1.5],
      pitch: "Check balances, freeze your card and pay anyone from your phone.",
      script:
        "{first_name}, did you know you can do this in our app in seconds, any time? "
        + "I can text you a link and walk you through it now.",
      sms: "{first_name}, bank from your phone: download our app. Reply APP for a link.",
      intercept: -2.4,
      truth: [
        .bump(feature: "age", weight: 0.6, center: 40, width: 15),
        .linear(feature: "branch_visits_month", weight: 0.4, center: 2, width: 2),
        .linear(feature: "calls_month", weight: 0.3, center: 1, width: 1),
        .linear(feature: "atm_txn_30d", weight: 0.3, center: 3, width: 2),
      ]),
    entry(
      "overdraft-protection", "Overdraft protection", product: "overdraft", category: "everyday", value: 70,
      context: ["reason:card-lost": 1.0, "reason:complaint": 0.3],
      pitch: "An arranged overdraft so a payment never bounces.",
      script:
        "{first_name}, an arranged overdraft means a payment will never bounce; there is no charge unless you use it. "
        + "Shall I set one up?",
      sms: "{first_name}, never have a payment bounce: arranged overdraft. Reply OD.",
      intercept: -3.4,
      truth: [
        .linear(feature: "balance_trend", weight: -0.6, center: 0, width: 0.1),
        .linear(feature: "checking_balance", weight: -0.6, center: 3_000, width: 3_000),
      ]),
    entry(
      "fx-travel-wallet", "Multi-currency travel wallet", product: "fx_wallet", category: "cards", value: 110,
      conditions: [
        OfferCondition(
          feature: "card_spend_abroad_share", op: .greaterThan, value: 0.02, description: "no card spend abroad")
      ],
      context: ["reason:travel": 2.0, "page:travel": 2.0, "reason:complaint": 0.3],
      pitch: "Hold 20 currencies at the real exchange rate in your app.",
      script:
        "{first_name}, as you spend abroad, our travel wallet lets you hold 20 currencies at the real exchange rate. "
        + "Shall I activate it?",
      sms: "{first_name}, spend abroad at the real exchange rate with our travel wallet. Reply FX.",
      intercept: -3.0,
      truth: [
        .linear(feature: "card_spend_abroad_share", weight: 1.0, center: 0.1, width: 0.1),
        .linear(feature: "digital_logins_month", weight: 0.4, center: 10, width: 8),
      ]),
    entry(
      "green-home-loan", "Green home improvement loan", product: "green_loan", category: "loans", value: 300,
      conditions: [
        OfferCondition(feature: "holds_mortgage", op: .equal, value: 1, description: "needs a mortgage with us")
      ],
      context: ["reason:mortgage-enquiry": 1.5, "page:mortgages": 1.3, "reason:complaint": 0.3],
      pitch: "A low-rate loan for solar panels, heat pumps and insulation.",
      script:
        "{first_name}, our green loan has a reduced rate for solar panels, heat pumps and insulation, "
        + "and could lower your energy bills. Interested?",
      sms: "{first_name}, low-rate green loans for solar and insulation. Reply GREEN.",
      intercept: -3.8,
      truth: [
        .linear(feature: "income", weight: 0.5, center: 50, width: 30),
        .bump(feature: "age", weight: 0.6, center: 42, width: 12),
      ]),
    // "Call me": offered on the website and in the app, carried out by the contact centre, so
    // made only while it is open and has agent minutes left (ten per call-back).
    entry(
      "callback-contact-centre", "Talk to an adviser", product: "callback", category: "callback", value: 45,
      channels: [.web, .mobileApp], held: false,
      context: ["page:mortgages": 1.8, "page:savings": 1.3, "page:investments": 1.4, "page:loans": 1.3],
      pitch: "Questions? An adviser calls you back in minutes, at no cost.",
      script: "", sms: "",
      intercept: -3.0, fulfilledBy: .contactCentre, capacityUnits: 10,
      truth: [
        .bump(feature: "age", weight: 0.5, center: 45, width: 15),
        .linear(feature: "calls_month", weight: 0.4, center: 1, width: 1),
        .linear(feature: "digital_logins_month", weight: 0.4, center: 10, width: 8),
      ]),
  ]

  /// How features read to an agent.
  public static let phrases: [String: FeaturePhrase] = [
    "age": FeaturePhrase(high: "older customer", low: "younger customer"),
    "income": FeaturePhrase(high: "income supports it", low: "income is on the low side"),
    "tenure_years": FeaturePhrase(high: "long-standing customer", low: "new customer"),
    "checking_balance": FeaturePhrase(high: "healthy current account balance", low: "low current account balance"),
    "savings_balance": FeaturePhrase(high: "substantial savings", low: "little saved"),
    "investment_balance": FeaturePhrase(high: "already invests", low: "no investments yet"),
    "card_spend_monthly": FeaturePhrase(high: "high card spend", low: "low card spend"),
    "card_spend_abroad_share": FeaturePhrase(high: "high card spend abroad", low: "rarely spends abroad"),
    "mortgage_balance": FeaturePhrase(high: "large mortgage", low: "small or no mortgage"),
    "mortgage_rate": FeaturePhrase(high: "paying a high mortgage rate", low: "already on a low mortgage rate"),
    "num_children": FeaturePhrase(high: "has children", low: "no children"),
    "oldest_child_age": FeaturePhrase(high: "older children", low: "young children, or none"),
    "num_products": FeaturePhrase(high: "holds several products", low: "holds few products"),
    "digital_logins_month": FeaturePhrase(high: "active online banker", low: "rarely banks online"),
    "branch_visits_month": FeaturePhrase(high: "visits branches often", low: "seldom visits a branch"),
    "calls_month": FeaturePhrase(high: "calls us often", low: "seldom calls"),
    "balance_trend": FeaturePhrase(high: "balance growing", low: "balance falling: money moving out"),
    "salary_change": FeaturePhrase(high: "salary recently up", low: "salary recently down"),
    "txn_count_30d": FeaturePhrase(high: "many recent transactions", low: "few recent transactions"),
    "txn_out_amount_30d": FeaturePhrase(high: "spends a lot lately", low: "spends little lately"),
    "txn_in_amount_30d": FeaturePhrase(high: "money coming in lately", low: "little money coming in"),
    "atm_txn_30d": FeaturePhrase(high: "uses ATMs often", low: "rarely uses ATMs"),
    "branch_txn_30d": FeaturePhrase(high: "banks at the branch", low: "rarely at the branch"),
    "card_txn_30d": FeaturePhrase(high: "pays by card a lot", low: "rarely pays by card"),
    "online_txn_30d": FeaturePhrase(high: "pays online a lot", low: "rarely pays online"),
    "phone_txn_30d": FeaturePhrase(high: "banks by phone", low: "rarely banks by phone"),
    "days_since_txn": FeaturePhrase(high: "quiet account lately", low: "recently active account"),
    "page_views_7d": FeaturePhrase(high: "browsing our site this week", low: "not on our site this week"),
    "days_since_page_view": FeaturePhrase(high: "not seen online for a while", low: "seen online recently"),
    "calls_30d": FeaturePhrase(high: "called us recently", low: "has not called lately"),
    "days_since_call": FeaturePhrase(high: "no call for a while", low: "called very recently"),
    "transfers_out_30d": FeaturePhrase(high: "many outgoing transfers", low: "few outgoing transfers"),
    "transfer_out_amount_30d": FeaturePhrase(high: "large sums transferred out", low: "little transferred out"),
    "transfer_in_amount_30d": FeaturePhrase(high: "large income transfers", low: "small income transfers"),
    "days_since_transfer": FeaturePhrase(high: "no transfer for a while", low: "transferred money recently"),
    "churn_risk": FeaturePhrase(high: "just moved a large sum out", low: "no large outgoing transfer"),
  ]

  /// The catalogue document.
  public static var document: CatalogueDocument {
    var phrases = Self.phrases
    for product in DemoBankSchema.products {
      let words = product.replacingOccurrences(of: "_", with: " ")
      phrases["holds_\(product)"] = FeaturePhrase(high: "holds a \(words)", low: "no \(words)")
    }
    for (feature, _) in DemoBankSchema.consentChannels {
      phrases[feature] = FeaturePhrase(high: "open to contact", low: "not open to contact")
    }
    // The seeds' bank counted a branch contact at 120, a phone agent 60, an ATM 20, the web 5.
    let costs: [String: Double] = [
      "branch": 120, "contact-centre": 60, "atm": 20, "web": 5, "mobile-app": 5, "email": 1, "sms": 2,
    ]
    // Service offers (helping customers use what they hold) need service consent, the rest marketing.
    let offers = entries.map { entry in
      var offer = entry.offer
      if offer.category == "service" { offer.purpose = .service }
      return offer
    }
    return CatalogueDocument(
      version: version, currency: "EUR", ageFeature: "age", featurePhrases: phrases,
      offers: offers, channelCosts: costs,
      contactPolicy: ContactPolicy(
        frequencyCaps: [.init(channel: .email, max: 2, windowDays: 7), .init(channel: .sms, max: 1, windowDays: 7)],
        declineCooldownDays: 14, maxOffersPerWeek: 12, noRepeatDays: 30),
      controlGroup: ControlGroupPolicy(share: 0.05, periodDays: 30, salt: "demo"),
      exploration: ExplorationPolicy(method: .epsilonGreedy, epsilon: 0.05),
      capacity: [ChannelCapacity(channel: .contactCentre, unitsPerHour: 6_000, unitsPerOffer: 2)],
      // An offer in a call or visit the customer started costs about a tenth of a contact (agent minutes).
      arbitration: ArbitrationPolicy(inboundCostShare: 0.1),
      maxPerCategoryPerPage: 2,
      openingHours: [
        OpeningHours(
          channel: .contactCentre, timeZone: "Europe/London",
          periods: [
            OpeningPeriod(days: "mon-fri", open: "08:00", close: "20:00"),
            OpeningPeriod(days: "sat", open: "09:00", close: "17:00"),
          ])
      ])
  }

  /// The hidden response model.
  public static var groundTruth: GroundTruth { GroundTruth(offers: entries.map(\.truth)) }
}
