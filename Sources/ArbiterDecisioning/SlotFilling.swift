import ArbiterCore

/// Places drawn offers into the slots of a page, in the order the slots are given: each offer
/// goes to the first slot with room whose content type (an offer category; empty takes any)
/// matches, with at most `maxPerCategory` offers of one category on the page (0: no limit).
struct SlotFilling {
  private var room: [Int]
  private let slots: [SlotRequest]
  private let maxPerCategory: Int
  private var perCategory: [String: Int] = [:]
  /// Slot name and 1-based position of each placed offer, in placing order.
  private(set) var placements: [(slot: String, position: Int)] = []

  init(slots: [SlotRequest]?, maxPerCategory: Int) {
    self.slots = slots ?? []
    self.room = (slots ?? []).map(\.count)
    self.maxPerCategory = maxPerCategory
  }

  /// How many offers the page holds.
  var capacity: Int { room.reduce(0, +) }

  private func slot(for category: String) -> Int? {
    if maxPerCategory > 0, perCategory[category, default: 0] >= maxPerCategory { return nil }
    return slots.indices.first { room[$0] > 0 && (slots[$0].contentType.isEmpty || slots[$0].contentType == category) }
  }

  func canPlace(category: String) -> Bool { slot(for: category) != nil }

  mutating func place(category: String) {
    guard let s = slot(for: category) else { return }
    room[s] -= 1
    perCategory[category, default: 0] += 1
    placements.append((slots[s].name, slots[s].count - room[s]))
  }
}
