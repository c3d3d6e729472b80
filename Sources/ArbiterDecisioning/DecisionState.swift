import ArbiterCore
import ArbiterModels

/// What one decision carries from stage to stage (see ``DecisionEngine/decide(_:decisionId:contacts:slots:)``):
/// the request, the moment it is decided at, what the contact policy and the pacing say, and what
/// each stage adds — candidates, suppressions, control holdouts, the draw.
struct DecisionState {
  /// An offer that passed eligibility, the contact policy and the limits, scored.
  ///
  /// Laid out in 48 bytes (the offer's index as 32 bits, the two flags beside it): the candidates
  /// are sorted by priority, and a wider element makes that sort measurably slower.
  struct Candidate {
    private var offerIndex: Int32
    /// Drawn into the response.
    var shown = false
    /// Why a draw could not show it (its quota or the channel's capacity ran out meanwhile).
    var refusal: Suppression.Code?
    var propensity: Double
    var weight: Double
    var cost: Double
    var price: Double
    var priority: Double

    /// The offer's index in the catalogue.
    var offer: Int { Int(offerIndex) }

    init(offer: Int, propensity: Double, weight: Double, cost: Double, price: Double, priority: Double) {
      offerIndex = Int32(offer)
      self.propensity = propensity
      self.weight = weight
      self.cost = cost
      self.price = price
      self.priority = priority
    }
  }

  /// One offer drawn: which candidate, the probability it had at its position, and for a page
  /// the slot and 1-based position it fills.
  struct Draw {
    var candidate: Int
    var probability: Double
    var slot: String = ""
    var slotPosition: Int = 0
  }

  let request: DecisionRequest
  let decisionId: String
  /// For a page: its slots, filled in order.
  let slots: [SlotRequest]?
  let started: UInt64
  let now: Double
  let nowMillis: Int64
  let policy: ContactPolicyCheck
  /// Context-weight columns of the call reason and the page, if any offer weighs them.
  let reasonKey: Int?
  let pageKey: Int?
  let channelBudget: PacingState.Budget?
  /// The channel capacity's shadow price per unit, and the channel's used units at the start.
  let channelPrice: Double
  let channelUsed: Double
  /// The share of a contact's cost an offer bears here (inbound interactions bear part).
  let costShare: Double
  let control: (period: UInt64, share: Double)?
  /// When the decision must be made by (uptime nanoseconds; `.max` for no budget): the sooner
  /// of the request's deadline and the catalogue's decision budget.
  let budgetEnd: UInt64
  /// Set when the decision ran out of its budget and answers with the fallback offers.
  var fallback = false

  var candidates: [Candidate] = []
  var suppressed: [Suppression] = []
  var controls: [ControlHoldout] = []
  /// Offers not made, by reason, for the dashboard.
  var tally = SuppressionTally()
  var drawn: [Draw] = []
  /// Thompson sampling's per-offer samples, when the catalogue explores that way.
  var thompson: ThompsonSample?

  var channel: Channel { request.channel }
  var explain: Bool { request.explain }

  /// How many offers the draw may show: the request's (or the page's) number, within what the
  /// contact policy still allows this week.
  func allowed(pageCapacity: Int) -> Int {
    min(slots == nil ? request.maxOffers : pageCapacity, policy.offersLeftThisWeek)
  }
}
