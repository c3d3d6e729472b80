import ArbiterCore
import ArbiterFeatureStore
import ArbiterServer
import ArbiterService
import Foundation
import Testing

/// The allowed skew of event times is a setting of the store (and the server's --max-event-skew).
@Suite struct EventSkewConfigTests {
  @Test func theSkewIsConfigurable() throws {
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    let halfAnHourAhead = CustomerEvent(customerId: 1, kind: .call, timestampMillis: now + 1_800_000)
    let strict = try FeatureStore(schema: eventSchema)
    _ = try strict.upsert([record(1, age: 40)])
    let refused = strict.apply([halfAnHourAhead])
    #expect(refused.rejected == 1)
    #expect(
      refused.errors == [
        "events[0] (customer 1): event time \(now + 1_800_000) ms is more than 5m ahead of the server clock"
      ])
    let lenient = try FeatureStore(schema: eventSchema, maxEventSkew: .seconds(3_600))
    _ = try lenient.upsert([record(1, age: 40)])
    #expect(lenient.apply([halfAnHourAhead]).accepted == 1)
    // A fixed server clock, as a test or a replay sets it.
    let fixed = try FeatureStore(schema: eventSchema, maxEventSkew: .milliseconds(500), serverClock: { 20_000 })
    _ = try fixed.upsert([record(1, age: 40)])
    let result = fixed.apply([
      CustomerEvent(customerId: 1, kind: .call, timestampMillis: day(20_000) + 500),
      CustomerEvent(customerId: 1, kind: .call, timestampMillis: day(20_000) + 501),
      CustomerEvent(customerId: 1, kind: .call, timestampMillis: -1),
    ])
    #expect(result.accepted == 1)
    #expect(
      result.errors == [
        "events[1] (customer 1): event time \(day(20_000) + 501) ms is more than 500ms ahead of the server clock",
        "events[2] (customer 1): event time -1 ms is before 1970",
      ])
    #expect(ArbiterConfiguration().store.maxEventSkew == .seconds(300))
  }

  @Test func upsertRefusesACustomerClockAheadOfTheServer() throws {
    let store = try FeatureStore(schema: eventSchema, serverClock: { 20_000 })
    var ahead = record(1, age: 40)
    ahead.values[1] = -1  // the newest event a day from now
    let result = try store.upsert([ahead, record(2, age: 41)], asOfDays: 20_000)
    #expect(result.inserted == 1)
    #expect(
      result.errors == [
        "profiles[0] (customer 1): clock = -1.0 days since the newest event puts that event more than 5m ahead of the "
          + "server clock"
      ])
  }

  @Test func durationsAsWritten() {
    #expect(DurationText.format(.seconds(300)) == "5m")
    #expect(DurationText.format(.seconds(7_200)) == "2h")
    #expect(DurationText.format(.seconds(45)) == "45s")
    #expect(DurationText.format(.milliseconds(1_500)) == "1500ms")
    #expect(DurationText.format(.microseconds(500)) == "500us" && DurationText.parse("500us") == .microseconds(500))
    #expect(DurationText.parse("250µs") == .microseconds(250) && DurationText.parse("2ms") == .milliseconds(2))
    #expect(DurationText.parse("5m") == .seconds(300))
    #expect(DurationText.parse("250ms") == .milliseconds(250))
    #expect(DurationText.parse("1h") == .seconds(3_600))
    #expect(DurationText.parse("30") == .seconds(30))
    #expect(DurationText.parse("-5m") == nil && DurationText.parse("soon") == nil && DurationText.parse("") == nil)
  }
}
