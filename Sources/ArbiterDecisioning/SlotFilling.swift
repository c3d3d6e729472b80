import ArbiterCore

/// Fills the slots of a page position by position, in the order the slots are given: each
/// position takes an offer of its slot's content type (an offer category; empty takes any), with
/// at most `maxPerCategory` offers of one category on the page (0: no limit). The draw picks each
/// position's offer from those that fit it, so that the probability logged for a placed offer is
/// the probability it had for that slot position.
struct SlotFilling {
  private let slots: [SlotRequest]
  private let maxPerCategory: Int
  private var perCategory: [String: Int] = [:]
  /// The slot being filled and how many of its positions are taken.
  private var slotIndex = 0
  private var filled = 0

  init(slots: [SlotRequest]?, maxPerCategory: Int) {
    self.slots = slots ?? []
    self.maxPerCategory = maxPerCategory
  }

  /// How many offers the page holds.
  var capacity: Int { slots.reduce(0) { $0 + $1.count } }

  /// Whether a position is left to fill.
  var hasOpenPosition: Bool { slotIndex < slots.count }

  /// Whether an offer of `category` may fill the open position.
  func fits(category: String) -> Bool {
    guard slotIndex < slots.count else { return false }
    if maxPerCategory > 0, perCategory[category, default: 0] >= maxPerCategory { return false }
    let type = slots[slotIndex].contentType
    return type.isEmpty || type == category
  }

  /// Places an offer of `category` in the open position; returns its slot and 1-based position.
  mutating func place(category: String) -> (slot: String, position: Int) {
    let slot = slots[slotIndex]
    filled += 1
    let position = filled
    perCategory[category, default: 0] += 1
    if filled == slot.count { skipSlot() }
    return (slot.name, position)
  }

  /// Leaves the rest of the open slot empty (no offer fits it) and moves to the next slot.
  mutating func skipSlot() {
    slotIndex += 1
    filled = 0
  }
}
