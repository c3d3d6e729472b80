// Arbiter's agent console: screen pop over Server-Sent Events, the caller's profile, the ranked
// next-best offers with their scripts, and the answers recorded as outcomes.
//
// Talks to the server's HTTP/JSON door (docs/http-api.md), bodies in protobuf's canonical JSON.
// No framework, nothing fetched from elsewhere. `?api=http://host:port` points the page at
// another server (which must then allow this origin through CORS).
//
// What the three answers record (POST /v1/outcomes, against the decision that made the offer):
//   Accept  → OUTCOME_ACCEPT
//   Decline → OUTCOME_DECLINE with the declineReason the agent picked
//   Not now → OUTCOME_IMPRESSION only: the offer was put to the customer, who gave no answer. It is
//             neither an acceptance nor a decline, so it starts no decline cool-down and does not
//             stop the offer from being made again (the contact policy blocks repeats only after an
//             accept or a decline); it does count as the offer having been seen.
"use strict";

(function () {
  const API = (new URLSearchParams(location.search).get("api") || "").replace(/\/$/, "");
  const STORE_AGENT = "arbiter.console.agent";
  const STORE_CALL = "arbiter.console.call";
  const MAX_INTERACTIONS = 25;

  const DECLINE_REASONS = [
    ["too-expensive", "Too expensive"],
    ["already-has-one", "Already has one elsewhere"],
    ["not-interested-now", "Not interested now"],
    ["does-not-trust-it", "Doesn't trust it"],
    ["other", "Other"],
  ];
  const CHANNELS = {
    CHANNEL_WEB: "Website", CHANNEL_MOBILE_APP: "App", CHANNEL_CONTACT_CENTRE: "Phone", CHANNEL_BRANCH: "Branch",
    CHANNEL_ATM: "ATM", CHANNEL_EMAIL: "Email", CHANNEL_SMS: "SMS", CHANNEL_UNSPECIFIED: "—",
  };
  const OUTCOMES = {
    OUTCOME_IMPRESSION: ["Seen", "seen"], OUTCOME_CLICK: ["Clicked", "click"], OUTCOME_ACCEPT: ["Accepted", "accept"],
    OUTCOME_DECLINE: ["Declined", "decline"], OUTCOME_CONVERT: ["Converted", "accept"],
  };
  const REASON_WORDS = {
    "": "none given", travel: "travel", "mortgage-enquiry": "a mortgage enquiry", complaint: "a complaint",
    "close-account": "closing the account", "card-lost": "a lost or stolen card", bereavement: "a bereavement",
  };
  // Profile attributes shown first, when the schema gives them.
  const HEADLINE = ["age", "segment", "life_stage", "value_tier", "customer_value", "income_band", "tenure_years"];

  const $ = (id) => document.getElementById(id);

  const state = {
    agentId: null,
    events: null,
    eventsOpen: false,
    streamDelay: 1000,
    streamTimer: null,
    down: false,
    probeDelay: 1000,
    probeTimer: null,
    probeDue: 0,
    call: null, // {callId, customerId, origin, page, viewing, callReason, queuedAtMillis, lookup}
    profile: null,
    decision: null,
    answered: new Map(), // offerId → outcome, for the decision on screen
    callAnswers: [], // [{name, label, kind}] over the whole call
    currentId: null,
    pending: false,
    declining: false,
    offerNames: new Map(),
    callSeq: 0, // which customer is on screen: late answers for another are dropped
    decideSeq: 0, // which decision was asked for last
  };

  // ---- the server ----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(code, message, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  async function api(method, path, body) {
    let response;
    try {
      response = await fetch(API + path, {
        method,
        cache: "no-store",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      serverDown();
      throw new ApiError("UNREACHABLE", "the server cannot be reached", 0);
    }
    serverUp();
    const text = await response.text();
    let json = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch (error) {
      json = {};
    }
    if (!response.ok) {
      if (response.status === 401) sessionLost();
      throw new ApiError(json.code || "HTTP_" + response.status, json.message || response.statusText, response.status);
    }
    return json;
  }

  // ---- unreachable server: banner, probe with backoff, recovery ---------------------------------

  function serverDown() {
    if (!state.down) {
      state.down = true;
      state.probeDelay = 1000;
      $("banner").hidden = false;
      document.body.classList.add("offline");
      setConn("offline");
      announce("The server cannot be reached.");
    }
    if (!state.probeTimer) scheduleProbe();
  }

  function serverUp() {
    if (!state.down) return;
    state.down = false;
    clearTimeout(state.probeTimer);
    state.probeTimer = null;
    $("banner").hidden = true;
    document.body.classList.remove("offline");
    announce("The server is back.");
    recover();
  }

  function scheduleProbe() {
    clearTimeout(state.probeTimer);
    state.probeDue = Date.now() + state.probeDelay;
    state.probeTimer = setTimeout(probe, state.probeDelay);
    state.probeDelay = Math.min(state.probeDelay * 2, 10000);
    tickBanner();
  }

  function tickBanner() {
    if (!state.down) return;
    const seconds = Math.max(0, Math.ceil((state.probeDue - Date.now()) / 1000));
    $("banner-retry-in").textContent = seconds > 0 ? `Retrying in ${seconds} s.` : "Retrying…";
  }
  setInterval(tickBanner, 500);

  async function probe() {
    state.probeTimer = null;
    try {
      const response = await fetch(API + "/health", { cache: "no-store" });
      if (response.status > 0) {
        serverUp();
        return;
      }
    } catch (error) {
      // still down
    }
    scheduleProbe();
  }

  // After the server comes back: the event stream again, and what was on screen refetched.
  function recover() {
    if (state.agentId && !state.eventsOpen) {
      clearTimeout(state.streamTimer);
      state.streamDelay = 1000;
      connectEvents();
    }
    if (state.call && state.call.customerId) {
      loadProfile(state.call.customerId);
      if (!state.decision) decide();
    }
  }

  // ---- the event stream --------------------------------------------------------------------------

  function setConn(kind, text) {
    const conn = $("conn");
    conn.dataset.state = kind;
    conn.textContent =
      text ||
      { connecting: "Connecting…", live: "Connected: calls pop here", reconnecting: "Reconnecting…", offline: "Offline" }[kind];
  }

  function connectEvents() {
    if (state.events) state.events.close();
    state.eventsOpen = false;
    setConn(state.down ? "offline" : "connecting");
    const source = new EventSource(API + "/v1/agents/" + encodeURIComponent(state.agentId) + "/events");
    state.events = source;
    source.onopen = () => {
      if (state.events !== source) return;
      state.eventsOpen = true;
      state.streamDelay = 1000;
      setConn("live");
      serverUp();
    };
    source.addEventListener("call", (event) => {
      if (state.events !== source) return;
      let call;
      try {
        call = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      screenPop(call);
    });
    source.addEventListener("ping", () => {});
    source.onerror = () => {
      if (state.events !== source) return;
      source.close();
      state.events = null;
      state.eventsOpen = false;
      const delay = state.streamDelay;
      state.streamDelay = Math.min(delay * 2, 15000);
      setConn(state.down ? "offline" : "reconnecting", state.down ? undefined : `Reconnecting in ${Math.round(delay / 1000)} s…`);
      // Is the server gone, or only the stream? /health tells; the banner shows if it is gone.
      fetch(API + "/health", { cache: "no-store" }).then(
        () => {
          serverUp();
          // The stream may have been refused for want of a session (it ended, or the server restarted).
          checkSession().then((allowed) => allowed || sessionLost());
        },
        () => serverDown()
      );
      clearTimeout(state.streamTimer);
      state.streamTimer = setTimeout(() => {
        if (state.agentId && !state.eventsOpen) connectEvents();
      }, delay);
    };
  }

  function setAgentState(agentState) {
    return api("POST", "/v1/agents/" + encodeURIComponent(state.agentId) + "/state", { state: agentState });
  }

  // ---- signing in and out -----------------------------------------------------------------------

  function signIn(agentId, explicit) {
    state.agentId = agentId;
    sessionStorage.setItem(STORE_AGENT, agentId);
    $("agent-name").textContent = agentId;
    $("login").hidden = true;
    $("agent-box").hidden = false;
    $("lookup").hidden = false;
    $("keys").hidden = false;
    if (explicit) {
      // Signing in starts taking calls, whatever state an earlier session left the agent in
      // (before the stream opens: a call the stream pops must not be followed by a "free").
      setAgentState("AGENT_FREE")
        .catch(() => {})
        .then(() => state.agentId === agentId && connectEvents());
    } else {
      connectEvents();
    }
    loadOfferNames();
    const saved = sessionStorage.getItem(STORE_CALL);
    if (saved && !explicit) {
      try {
        openCustomer(JSON.parse(saved), false);
        return;
      } catch (error) {
        sessionStorage.removeItem(STORE_CALL);
      }
    }
    showIdle();
  }

  // ---- the login session (when the server requires credentials) --------------------------------

  // Whether this browser may call the API: asks GET /v1/session; shows the access key field when a
  // login is needed. Resolves to true when calls can go ahead.
  async function checkSession() {
    try {
      const response = await fetch(API + "/v1/session", { cache: "no-store" });
      const needed = response.status === 401;
      $("key-field").hidden = !needed;
      $("access-key").required = needed;
      document.body.dataset.session = needed ? "needed" : "open";
      return response.ok;
    } catch (error) {
      return true; // unreachable: the banner says so once calls are made
    }
  }

  // Exchanges the access key for a session cookie; throws an Error saying why it was refused.
  async function logInWithKey(key) {
    await window.arbiterStaff.logIn(API, key);
    $("key-field").hidden = true;
    $("access-key").required = false;
    $("access-key").value = "";
  }

  // A call refused for want of a session (it expired, or the server restarted): back to the login.
  function sessionLost() {
    if (!state.agentId) return;
    signOut(false);
    $("key-field").hidden = false;
    $("access-key").required = true;
    $("login-error").textContent = "Your session has ended: enter your access key again.";
  }

  function signOut(endSession = true) {
    if (endSession) fetch(API + "/v1/session", { method: "DELETE", cache: "no-store" }).catch(() => {});
    if (state.events) state.events.close();
    state.events = null;
    state.eventsOpen = false;
    clearTimeout(state.streamTimer);
    state.agentId = null;
    state.call = null;
    sessionStorage.removeItem(STORE_AGENT);
    sessionStorage.removeItem(STORE_CALL);
    $("login").hidden = false;
    $("idle").hidden = true;
    $("workspace").hidden = true;
    $("agent-box").hidden = true;
    $("lookup").hidden = true;
    $("keys").hidden = true;
    $("agent-id").focus();
  }

  // Offer names for interactions and suppressed offers (which carry only ids).
  async function loadOfferNames() {
    try {
      const snapshot = await api("GET", "/v1/dashboard");
      for (const offer of snapshot.offers || []) if (offer.offerId && offer.name) state.offerNames.set(offer.offerId, offer.name);
      if (state.profile) renderProfile();
      if (state.decision) renderDecision();
    } catch (error) {
      // names fall back to the ids, made readable
    }
  }

  function offerName(id) {
    if (state.offerNames.has(id)) return state.offerNames.get(id);
    const words = String(id || "").replace(/[-_]+/g, " ").trim();
    return words ? words[0].toUpperCase() + words.slice(1) : "an offer";
  }

  // ---- screen pop and look-up ----------------------------------------------------------------

  // "callback" / "inbound" (docs/http-api.md), or the CallOrigin enum's names.
  function originOf(value) {
    const origin = String(value || "inbound").toLowerCase().replace(/^call_origin_/, "");
    return origin === "callback" || origin === "inbound" ? origin : "inbound";
  }

  function screenPop(event) {
    const call = {
      callId: event.callId || "",
      customerId: event.customerId && event.customerId !== "0" ? String(event.customerId) : "",
      origin: originOf(event.origin),
      page: event.page || "",
      viewing: event.viewing || "",
      callReason: event.callReason || "",
      queuedAtMillis: Number(event.queuedAtMillis || 0),
      visitorId: event.visitorId || "",
      lookup: false,
    };
    openCustomer(call, true);
    announce(`Call ${call.origin === "callback" ? "back" : "in"}: customer ${call.customerId || "not identified"}.`);
  }

  function lookUp(id) {
    openCustomer({ callId: "", customerId: id, origin: "lookup", callReason: state.call ? state.call.callReason : "", lookup: true }, true);
  }

  function openCustomer(call, takeFocus) {
    state.callSeq += 1;
    state.call = call;
    state.profile = null;
    state.decision = null;
    state.answered = new Map();
    state.callAnswers = [];
    state.currentId = null;
    state.declining = false;
    sessionStorage.setItem(STORE_CALL, JSON.stringify(call));
    $("idle").hidden = true;
    $("workspace").hidden = false;
    $("call-error").hidden = true;
    $("call-reason").value = REASON_WORDS[call.callReason] !== undefined ? call.callReason : "";
    renderCallBar();
    renderProfile();
    renderDecision();
    setBusyLabel();
    if (takeFocus && !isTyping()) $("workspace").focus({ preventScroll: true });
    if (call.customerId) {
      loadProfile(call.customerId);
      decide();
    }
  }

  function endCall() {
    const call = state.call;
    if (!call) return;
    state.callSeq += 1;
    state.call = null;
    state.profile = null;
    state.decision = null;
    sessionStorage.removeItem(STORE_CALL);
    const summary = state.callAnswers.map((a) => `${a.name}: ${a.label.toLowerCase()}`).join("; ");
    $("idle-last").textContent = call.customerId
      ? `Last: customer ${call.customerId}${summary ? " — " + summary : ""}.`
      : "";
    showIdle();
    setBusyLabel();
    setAgentState("AGENT_FREE").catch((error) => {
      if (error.code !== "UNREACHABLE") showIdleError(`Could not tell the server you are free: ${error.message}`);
    });
    $("idle-card").focus({ preventScroll: true });
  }

  function showIdle() {
    $("workspace").hidden = true;
    $("idle").hidden = false;
  }

  function showIdleError(text) {
    $("idle-last").textContent = text;
  }

  function setBusyLabel() {
    const busy = state.call && !state.call.lookup;
    const label = $("agent-state");
    label.dataset.state = busy ? "busy" : "free";
    label.textContent = busy ? "On a call" : state.call ? "Free (looking up)" : "Free";
    $("end-call").innerHTML = state.call && state.call.lookup ? "Close <kbd>E</kbd>" : "End call <kbd>E</kbd>";
  }

  async function loadProfile(customerId) {
    const seq = state.callSeq;
    try {
      const profile = await api("GET", `/v1/customers/${encodeURIComponent(customerId)}/profile?maxInteractions=${MAX_INTERACTIONS}`);
      if (seq !== state.callSeq) return;
      state.profile = profile;
      renderCallBar();
      renderProfile();
      if (state.decision) renderWhyNot();
    } catch (error) {
      if (seq !== state.callSeq) return;
      if (!state.profile) {
        $("profile-body").replaceChildren(
          el("p", { class: "inline-error" }, error.status === 404 ? `No customer ${customerId}.` : `Could not load the profile: ${error.message}.`)
        );
      }
    }
  }

  async function decide() {
    const call = state.call;
    if (!call || !call.customerId) return;
    const callSeq = state.callSeq;
    const seq = ++state.decideSeq;
    const reason = $("call-reason").value;
    $("offer-current").classList.add("loading");
    try {
      const decision = await api("POST", "/v1/decide", {
        customerId: call.customerId,
        channel: "CHANNEL_CONTACT_CENTRE",
        context: reason ? { callReason: reason } : {},
        explain: true,
      });
      if (seq !== state.decideSeq || callSeq !== state.callSeq) return;
      state.decision = decision;
      state.answered = new Map();
      state.currentId = null;
      state.declining = false;
      for (const offer of decision.offers || []) if (offer.name) state.offerNames.set(offer.offerId, offer.name);
      $("call-error").hidden = true;
      renderDecision();
      if (state.profile) renderProfile();
      focusAction();
    } catch (error) {
      if (seq !== state.decideSeq || callSeq !== state.callSeq) return;
      state.decision = null;
      renderDecision(error.status === 404 ? `No customer ${call.customerId}.` : `Could not decide: ${error.message}.`);
    } finally {
      if (seq === state.decideSeq) $("offer-current").classList.remove("loading");
    }
  }

  // ---- answers -----------------------------------------------------------------------------------

  function currentOffer() {
    const offers = (state.decision && state.decision.offers) || [];
    if (state.currentId) {
      const chosen = offers.find((o) => o.offerId === state.currentId && !state.answered.has(o.offerId));
      if (chosen) return chosen;
    }
    return offers.find((o) => !state.answered.has(o.offerId)) || null;
  }

  async function answer(outcome, declineReason) {
    const offer = currentOffer();
    if (!offer || state.pending || !state.decision) return;
    const decisionId = state.decision.decisionId;
    const event = { decisionId, offerId: offer.offerId, outcome };
    if (declineReason) event.declineReason = declineReason;
    state.pending = true;
    renderCurrent();
    try {
      await api("POST", "/v1/outcomes", { outcomes: [event] });
      if (!state.decision || state.decision.decisionId !== decisionId) return;
      const label =
        outcome === "OUTCOME_ACCEPT"
          ? "Accepted"
          : outcome === "OUTCOME_DECLINE"
            ? "Declined: " + DECLINE_REASONS.find((r) => r[0] === declineReason)[1].toLowerCase()
            : "Not now";
      const kind = outcome === "OUTCOME_ACCEPT" ? "accept" : outcome === "OUTCOME_DECLINE" ? "decline" : "seen";
      state.answered.set(offer.offerId, outcome);
      state.callAnswers.push({ name: offer.name || offerName(offer.offerId), label, kind, offerId: offer.offerId });
      state.currentId = null;
      state.declining = false;
      state.pending = false;
      $("call-error").hidden = true;
      announce(`${offer.name}: ${label.toLowerCase()}, recorded.`);
      renderDecision();
      focusAction();
      if (state.call && state.call.customerId) loadProfile(state.call.customerId);
    } catch (error) {
      state.pending = false;
      renderCurrent();
      showCallError(`Not recorded: ${error.message}. ${error.code === "UNREACHABLE" ? "Try again when the server is back." : ""}`);
    }
  }

  function startDecline() {
    if (!currentOffer() || state.pending) return;
    state.declining = true;
    renderCurrent();
    const first = document.querySelector("#offer-current .decline-reasons button");
    if (first) first.focus();
  }

  function cancelDecline() {
    state.declining = false;
    renderCurrent();
    focusAction();
  }

  function focusAction() {
    if (isTyping()) return;
    const target = document.querySelector("#offer-current [data-action=accept]");
    if (target && !$("workspace").hidden) target.focus({ preventScroll: true });
  }

  function showCallError(text) {
    const box = $("call-error");
    box.textContent = text;
    box.hidden = false;
  }

  // ---- rendering -------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function kbd(key) {
    return el("kbd", {}, key);
  }

  function renderCallBar() {
    const call = state.call;
    if (!call) return;
    const kind = $("call-kind");
    kind.dataset.origin = call.origin;
    kind.textContent = { callback: "Call-back", inbound: "Inbound call", lookup: "Look-up" }[call.origin] || call.origin;
    let where = "";
    if (call.origin === "callback") {
      where = "requested on the website";
      if (call.page) where += ` from the ${call.page} page`;
      if (call.viewing) where += `, while looking at “${call.viewing}”`;
    } else if (call.origin === "inbound") {
      where = call.callReason ? `about ${REASON_WORDS[call.callReason] || call.callReason}` : "no reason given yet";
    } else {
      where = "opened by you, not a call";
    }
    if (call.queuedAtMillis) {
      const waited = Math.max(0, Math.round((Date.now() - call.queuedAtMillis) / 1000));
      where += ` · waited ${waited < 90 ? waited + " s" : Math.round(waited / 60) + " min"}`;
    }
    $("call-where").textContent = where;
    const name = state.profile && state.profile.displayName;
    const customer = $("call-customer");
    customer.dataset.customerId = call.customerId || "";
    customer.replaceChildren(
      ...(call.customerId
        ? [el("span", { class: "name" }, name || "Customer"), el("span", { class: "cid" }, ` · customer ${call.customerId}`)]
        : [el("span", { class: "name" }, "Caller not identified"), el("span", { class: "cid" }, call.visitorId ? ` · visitor ${call.visitorId}` : "")])
    );
  }

  function formatValue(attribute) {
    const text = attribute.value;
    if (text === undefined || text === "") return "—";
    if (/^-?\d+(\.\d+)?$/.test(text)) {
      const number = Number(text);
      return Math.abs(number) >= 1000
        ? number.toLocaleString("en-GB", { maximumFractionDigits: 0 })
        : number.toLocaleString("en-GB", { maximumFractionDigits: 1 });
    }
    return text;
  }

  function timeAgo(millis) {
    const seconds = Math.max(0, (Date.now() - Number(millis)) / 1000);
    if (seconds < 60) return "just now";
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    const days = Math.floor(seconds / 86400);
    return days === 1 ? "yesterday" : `${days} days ago`;
  }

  function renderProfile() {
    const body = $("profile-body");
    const profile = state.profile;
    const call = state.call;
    if (!call) return;
    if (!call.customerId) {
      body.replaceChildren(el("p", { class: "muted" }, "The caller is not a known customer. Ask for their customer number and look them up (press /)."));
      return;
    }
    if (!profile) {
      body.replaceChildren(el("p", { class: "muted" }, "Loading the profile…"));
      return;
    }
    const attributes = profile.attributes || [];
    const headline = HEADLINE.map((f) => attributes.find((a) => a.feature === f)).filter(Boolean);
    const rest = attributes.filter((a) => !HEADLINE.includes(a.feature));

    const facts = el(
      "dl",
      { class: "facts" },
      headline.map((a) => el("div", { class: "fact", dataset: { feature: a.feature } }, el("dt", {}, a.label), el("dd", {}, formatValue(a))))
    );
    const products = profile.products || [];
    const held = el(
      "ul",
      { class: "chips", "aria-label": "Products held" },
      products.length ? products.map((p) => el("li", { class: "chip", dataset: { product: p.product } }, p.name || p.product)) : el("li", { class: "muted" }, "none besides the current account")
    );
    const consents = el(
      "ul",
      { class: "consents", "aria-label": "Marketing consent per channel" },
      (profile.consents || []).filter((c) => (c.purpose || "CONSENT_PURPOSE_MARKETING") === "CONSENT_PURPOSE_MARKETING").map((c) =>
        el(
          "li",
          { class: c.granted ? "yes" : "no", dataset: { channel: c.channel }, title: consentTitle(c) },
          el("span", { class: "tick", "aria-hidden": "true" }, c.granted ? "✓" : "✕"),
          " ",
          CHANNELS[c.channel] || c.channel,
          el("span", { class: "sr-only" }, c.granted ? ": may be offered" : ": no permission")
        )
      )
    );
    const more = el(
      "details",
      { class: "more" },
      el("summary", {}, "More about the customer"),
      el("dl", { class: "grid" }, rest.map((a) => el("div", { dataset: { feature: a.feature } }, el("dt", {}, a.label), el("dd", {}, formatValue(a)))))
    );
    // An offer that got an answer shows once, with the answer; one still open shows as offered.
    const all = profile.recentInteractions || [];
    const answeredKeys = new Set(all.filter((r) => r.outcome).map((r) => r.decisionId + "\u0000" + r.offerId));
    const interactions = all.filter((r) => r.outcome || !answeredKeys.has(r.decisionId + "\u0000" + r.offerId));
    const history = el(
      "ol",
      { class: "history", id: "history" },
      interactions.length
        ? interactions.slice(0, 12).map((r) => {
            const [word, kind] = OUTCOMES[r.outcome] || ["Offered", "offered"];
            return el(
              "li",
              { dataset: { offerId: r.offerId, decisionId: r.decisionId || "", outcome: r.outcome || "OFFERED" } },
              el("span", { class: "badge " + kind }, word),
              el("span", { class: "what" }, offerName(r.offerId), r.declineReason ? el("span", { class: "muted" }, ` — ${reasonLabel(r.declineReason)}`) : null),
              el("span", { class: "when muted", title: r.timestampMillis ? new Date(Number(r.timestampMillis)).toLocaleString("en-GB") : "" }, `${CHANNELS[r.channel] || ""} · ${r.timestampMillis ? timeAgo(r.timestampMillis) : ""}`)
            );
          })
        : el("li", { class: "muted" }, "No offers made yet.")
    );
    body.replaceChildren(
      facts,
      el("h3", {}, "Products held"),
      held,
      el("h3", {}, "May we offer through"),
      consents,
      el("h3", {}, "Recent offers and answers"),
      history,
      rest.length ? more : null
    );
  }

  function reasonLabel(code) {
    const known = DECLINE_REASONS.find((r) => r[0] === code);
    return known ? known[1].toLowerCase() : String(code).replace(/-/g, " ");
  }

  function fmt(number, digits) {
    return Number(number || 0).toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function renderDecision(errorText) {
    const decision = state.decision;
    const meta = $("decision-meta");
    if (decision) {
      const micros = Number(decision.decisionNanos || 0) / 1000;
      meta.textContent = `decision ${decision.decisionId}${micros ? ` · ${fmt(micros, 0)} µs` : ""}`;
      meta.title = decision.versions ? `bundle ${decision.versions.bundleName || ""} ${decision.versions.bundleVersion || ""}, catalogue ${decision.versions.catalogueVersion || ""}` : "";
    } else {
      meta.textContent = "";
    }
    renderCurrent(errorText);
    renderQueue();
    renderDone();
    renderWhyNot();
  }

  function renderCurrent(errorText) {
    const box = $("offer-current");
    const call = state.call;
    const decision = state.decision;
    box.removeAttribute("data-offer-id");
    box.removeAttribute("data-decision-id");
    if (!call) return;
    if (!call.customerId) {
      box.replaceChildren(el("p", { class: "muted" }, "No offers without a known customer."));
      return;
    }
    if (errorText) {
      box.replaceChildren(el("p", { class: "inline-error" }, errorText), el("button", { type: "button", onclick: () => decide() }, "Try again"));
      return;
    }
    if (!decision) {
      box.replaceChildren(el("p", { class: "muted" }, "Deciding what to offer…"));
      return;
    }
    const offers = decision.offers || [];
    const offer = currentOffer();
    if (!offer) {
      const none = offers.length === 0;
      box.replaceChildren(
        el("h3", { class: "offer-title" }, none ? "Nothing to offer right now" : "All offers answered"),
        el(
          "p",
          { class: "muted" },
          none
            ? "No offer suits this customer on the phone at the moment: see why below."
            : "Every offer of this decision has an answer. Change the call reason to look again, or end the call."
        ),
        el("button", { type: "button", class: "quiet", onclick: () => decide() }, "Decide again")
      );
      if (none) $("why-not").open = true;
      return;
    }
    box.dataset.offerId = offer.offerId;
    box.dataset.decisionId = decision.decisionId;
    const position = offers.indexOf(offer) + 1;
    const propensity = Number(offer.propensity || 0);
    const value = Number(offer.value || 0);
    const expected = propensity * value;
    const script = (offer.treatment && (offer.treatment.agentScript || offer.treatment.message)) || "";
    const reasons = dedupe((offer.reasons || []).filter((r) => r.phrase), (r) => r.phrase);

    let actions;
    if (state.declining) {
      actions = el(
        "div",
        { class: "decline-reasons", role: "group", "aria-label": "Why did they decline?" },
        el("span", { class: "prompt" }, "Why not?"),
        DECLINE_REASONS.map(([code, label], i) =>
          el("button", { type: "button", dataset: { reason: code }, "aria-keyshortcuts": String(i + 1), onclick: () => answer("OUTCOME_DECLINE", code), disabled: state.pending }, kbd(String(i + 1)), " ", label)
        ),
        el("button", { type: "button", class: "quiet", "aria-keyshortcuts": "Escape", onclick: cancelDecline }, "Cancel ", kbd("Esc"))
      );
    } else {
      actions = el(
        "div",
        { class: "actions" },
        el("button", { type: "button", class: "accept", dataset: { action: "accept" }, "aria-keyshortcuts": "A", onclick: () => answer("OUTCOME_ACCEPT"), disabled: state.pending }, "Accept ", kbd("A")),
        el("button", { type: "button", class: "decline", dataset: { action: "decline" }, "aria-keyshortcuts": "D", onclick: startDecline, disabled: state.pending }, "Decline… ", kbd("D")),
        el(
          "button",
          { type: "button", class: "later", dataset: { action: "not-now" }, "aria-keyshortcuts": "N", title: "Mentioned, no answer: records that the offer was seen, without declining it", onclick: () => answer("OUTCOME_IMPRESSION"), disabled: state.pending },
          "Not now ",
          kbd("N")
        ),
        state.pending ? el("span", { class: "muted" }, "Recording…") : null
      );
    }

    box.replaceChildren(
      el(
        "div",
        { class: "offer-head" },
        el("span", { class: "rank" }, `${position} of ${offers.length}`),
        el("h3", { class: "offer-title", id: "offer-title" }, offer.name || offerName(offer.offerId)),
        offer.category ? el("span", { class: "chip category" }, offer.category) : null
      ),
      el("p", { class: "say" }, el("span", { class: "say-label" }, "Say"), el("q", { class: "script" }, script)),
      el(
        "div",
        { class: "offer-body" },
        el(
          "div",
          { class: "reasons" },
          el("h4", {}, "Why this offer"),
          reasons.length
            ? el("ul", {}, reasons.map((r) => el("li", { class: Number(r.contribution || 0) < 0 ? "minus" : "plus" }, r.phrase)))
            : el("p", { class: "muted" }, "No particular reason given.")
        ),
        el(
          "dl",
          { class: "numbers" },
          el("div", {}, el("dt", {}, "Expected value"), el("dd", { class: "ev" }, fmt(expected, 2)), el("dd", { class: "muted small" }, `${fmt(propensity * 100, 1)}% likely × value ${fmt(value, 0)}`)),
          el("div", {}, el("dt", {}, "Score"), el("dd", {}, fmt(offer.score, 2)), el("dd", { class: "muted small", title: "propensity × value × context weight × lever − channel cost − shadow price" }, scoreFactors(offer)))
        )
      ),
      actions
    );
  }

  function scoreFactors(offer) {
    const parts = [];
    const weight = Number(offer.contextWeight || 0);
    if (weight && weight !== 1) parts.push(`call reason ×${fmt(weight, 1)}`);
    const lever = Number(offer.lever || 0);
    if (lever && lever !== 1) parts.push(`lever ×${fmt(lever, 2)}`);
    const cost = Number(offer.channelCost || 0) + Number(offer.shadowPrice || 0);
    if (cost) parts.push(`cost −${fmt(cost, 2)}`);
    return parts.join(" · ") || "no other factors";
  }

  function dedupe(items, key) {
    const seen = new Set();
    return items.filter((item) => {
      const k = key(item);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  function renderQueue() {
    const decision = state.decision;
    const current = currentOffer();
    const queue = ((decision && decision.offers) || []).filter((o) => o !== current && !state.answered.has(o.offerId));
    $("offer-queue-box").hidden = queue.length === 0;
    $("offer-queue").replaceChildren(
      ...queue.map((o) =>
        el(
          "li",
          { dataset: { offerId: o.offerId } },
          el(
            "button",
            { type: "button", class: "queued", title: "Present this offer now", onclick: () => choose(o.offerId) },
            el("span", { class: "name" }, o.name || offerName(o.offerId)),
            el("span", { class: "muted small" }, `EV ${fmt(Number(o.propensity || 0) * Number(o.value || 0), 2)} · score ${fmt(o.score, 2)}`)
          )
        )
      )
    );
  }

  function choose(offerId) {
    state.currentId = offerId;
    state.declining = false;
    renderCurrent();
    renderQueue();
    focusAction();
  }

  function renderDone() {
    const answers = state.callAnswers;
    $("offer-done-box").hidden = answers.length === 0;
    $("offer-done").replaceChildren(
      ...answers.map((a) => el("li", { dataset: { offerId: a.offerId } }, el("span", { class: "badge " + a.kind }, a.label), " ", a.name))
    );
  }

  // ---- why the other offers were not made ------------------------------------------------------

  const CHANNEL_WORDS = {
    "contact-centre": "phone", web: "the website", "mobile-app": "the app", branch: "the branch", atm: "ATMs",
    email: "email", sms: "text message",
  };
  const NO_CONSENT = {
    "contact-centre": "no permission to phone", email: "no permission to email", sms: "no permission to text",
    web: "no permission for online offers", "mobile-app": "no permission for offers in the app",
    branch: "no permission for marketing in branch", atm: "no permission for marketing at ATMs",
  };

  // "Given 3 Dec 2026 (web-form)", "Withdrawn …", or "Never recorded": where a consent stands.
  function consentTitle(c) {
    const state = c.state === "CONSENT_STATE_GIVEN" ? "Given" : c.state === "CONSENT_STATE_WITHDRAWN" ? "Withdrawn" : "";
    if (!state) return "Never recorded: no permission";
    const when = c.timestampMillis ? new Date(Number(c.timestampMillis)).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" }) : "";
    return `${state} ${when}${c.source ? ` (${c.source})` : ""}`.replace(/ +/g, " ");
  }

  function daysAgoText(millis) {
    const days = Math.floor(Math.max(0, Date.now() - Number(millis)) / 86400000);
    return days === 0 ? "today" : days === 1 ? "yesterday" : `${days} days ago`;
  }

  function lastOutcome(offerId, outcome) {
    const records = (state.profile && state.profile.recentInteractions) || [];
    return records.find((r) => r.offerId === offerId && r.outcome === outcome && r.timestampMillis);
  }

  // A phrase an agent can use for a suppression code and its detail; the detail when nothing fits.
  function whyNotPhrase(s) {
    const detail = s.detail || "";
    let m;
    switch (s.code) {
      case "ALREADY_HELD": {
        const product = (detail.match(/^already holds (.+)$/) || [])[1];
        return /card|wallet/.test(product || "") ? "already has this card" : "already has this product";
      }
      case "NO_CONSENT":
        m = detail.match(/for (\S+)( withdrawn)?$/);
        return (m && NO_CONSENT[m[1]]) || "no permission to contact them about offers this way";
      case "CHANNEL_NOT_ALLOWED":
        m = detail.match(/through (\S+)$/);
        return m ? `not offered by ${CHANNEL_WORDS[m[1]] || m[1]}` : "not offered on this channel";
      case "NOT_VALID_NOW":
        return "not available at the moment";
      case "AGE_RULE":
        if ((m = detail.match(/below minimum (\d+)/))) return `too young for it (from ${m[1]})`;
        if ((m = detail.match(/above maximum (\d+)/))) return `over the age limit (up to ${m[1]})`;
        return "outside the age limits";
      case "RULE":
        if (/^(eligibility|suitability) rule/.test(detail)) return "does not meet the offer's conditions";
        return detail ? `does not qualify: ${detail}` : "does not meet the offer's conditions";
      case "SUITABILITY":
        return "not suitable for them (their risk profile or circumstances)";
      case "CONTACT_POLICY": {
        if ((m = detail.match(/^(accepted|declined) within/))) {
          const record = lastOutcome(s.offerId, m[1] === "accepted" ? "OUTCOME_ACCEPT" : "OUTCOME_DECLINE");
          return `${m[1]} this ${record ? daysAgoText(record.timestampMillis) : "recently"}`;
        }
        if ((m = detail.match(/^cool-down: '([^']+)'/))) {
          const record = lastOutcome(m[1], "OUTCOME_DECLINE");
          return `declined a similar offer (${offerName(m[1]).toLowerCase()}) ${record ? daysAgoText(record.timestampMillis) : "recently"}`;
        }
        if ((m = detail.match(/^frequency cap: (\d+) contacts through (\S+) in (\d+) days/)))
          return `contacted ${m[1]} times by ${CHANNEL_WORDS[m[2]] || m[2]} in ${m[3]} days: enough for now`;
        if (/^weekly limit/.test(detail)) return "has had the most offers we make in a week";
        return "contacted about offers recently: give it a rest";
      }
      case "BUDGET":
        m = detail.match(/per (\w+)/);
        return `all of ${m ? (m[1] === "day" ? "today" : `this ${m[1]}`) : "the period"}'s allocation has gone`;
      case "CAPACITY":
        return "the team's capacity for this hour is used up";
      case "CLOSED":
        m = detail.match(/^the (\S+) is closed/);
        return m && m[1] !== "contact-centre" ? `${CHANNEL_WORDS[m[1]] || m[1]} is closed now` : "outside the contact centre's opening hours";
      case "CONTROL_GROUP":
        return "held back on purpose, to measure what offers achieve (control group)";
      case "BELOW_COST":
        return "not worth offering now: too unlikely to pay off";
      case "RANKED_BELOW":
        return "eligible, but the offers above suit them better";
      default:
        return detail || String(s.code || "not made").toLowerCase().replace(/_/g, " ");
    }
  }

  const WHY_DETAIL = new Set(["RULE", "SUITABILITY", "CONTACT_POLICY", "BUDGET", "CAPACITY", "CLOSED", "NOT_VALID_NOW"]);
  const WHY_ORDER = ["RANKED_BELOW", "CAPACITY", "CLOSED", "BUDGET", "BELOW_COST", "CONTROL_GROUP", "CONTACT_POLICY", "ALREADY_HELD", "NO_CONSENT", "RULE", "SUITABILITY", "AGE_RULE", "CHANNEL_NOT_ALLOWED", "NOT_VALID_NOW"];

  // Grouped by what the agent would say, most relevant first; the server's detail stays at hand
  // (shown when it says more than the phrase, and as each name's tooltip).
  function renderWhyNot() {
    const decision = state.decision;
    const list = (decision && decision.suppressed) || [];
    const sorted = list.slice().sort((a, b) => rank(a.code) - rank(b.code));
    const groups = new Map();
    for (const s of sorted) {
      const phrase = whyNotPhrase(s);
      if (!groups.has(phrase)) groups.set(phrase, []);
      groups.get(phrase).push(s);
    }
    $("why-not-count").textContent = decision ? `(${list.length})` : "";
    $("why-not-list").replaceChildren(
      ...[...groups].map(([phrase, items]) => {
        // the server's words where they say more than the phrase (a rule, a policy, a limit)
        const details =
          items.length === 1 && WHY_DETAIL.has(items[0].code) && items[0].detail && !phrase.includes(items[0].detail) ? [items[0].detail] : [];
        return el(
          "li",
          { dataset: { code: items[0].code } },
          el("span", { class: "phrase" }, phrase[0].toUpperCase() + phrase.slice(1)),
          el(
            "span",
            { class: "names" },
            items.flatMap((s, i) => [i ? ", " : "", el("span", { class: "name", dataset: { offerId: s.offerId, code: s.code }, title: s.detail || "" }, offerName(s.offerId))])
          ),
          details.length ? el("span", { class: "detail muted small" }, details.join("; ")) : null
        );
      })
    );
    function rank(code) {
      const i = WHY_ORDER.indexOf(code);
      return i < 0 ? WHY_ORDER.length : i;
    }
  }

  // ---- keyboard --------------------------------------------------------------------------------

  function isTyping() {
    const active = document.activeElement;
    if (!active) return false;
    const tag = active.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || active.isContentEditable;
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (!state.agentId) return;
    const key = event.key;
    if (key === "Escape") {
      if (state.declining) {
        event.preventDefault();
        cancelDecline();
      } else if (isTyping()) {
        document.activeElement.blur();
      }
      return;
    }
    if (isTyping()) return;
    const onCall = state.call && !$("workspace").hidden;
    if (key === "/") {
      event.preventDefault();
      $("lookup-id").focus();
      $("lookup-id").select();
      return;
    }
    if (!onCall) return;
    const lower = key.length === 1 ? key.toLowerCase() : key;
    if (state.declining && /^[1-9]$/.test(key)) {
      const reason = DECLINE_REASONS[Number(key) - 1];
      if (reason) {
        event.preventDefault();
        answer("OUTCOME_DECLINE", reason[0]);
      }
      return;
    }
    const handlers = {
      a: () => !state.declining && answer("OUTCOME_ACCEPT"),
      d: () => !state.declining && startDecline(),
      n: () => !state.declining && answer("OUTCOME_IMPRESSION"),
      r: () => $("call-reason").focus(),
      e: () => endCall(),
    };
    if (handlers[lower]) {
      event.preventDefault();
      handlers[lower]();
    }
  });

  // ---- wiring ----------------------------------------------------------------------------------

  function announce(text) {
    const live = $("live");
    live.textContent = "";
    setTimeout(() => (live.textContent = text), 30);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("idle").querySelector(".idle-card").id = "idle-card";
    $("idle-card").tabIndex = -1;
    $("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = $("agent-id").value.trim();
      const key = $("access-key").value.trim();
      $("login-error").textContent = "";
      if (!id) return;
      if (!$("key-field").hidden) {
        try {
          await logInWithKey(key);
        } catch (error) {
          $("login-error").textContent = "Not signed in: " + error.message;
          $("access-key").focus();
          return;
        }
      }
      signIn(id, true);
    });
    $("lookup").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("lookup-id").value.trim();
      if (!/^\d+$/.test(id)) {
        $("lookup-id").setCustomValidity("A customer id is a number, e.g. 100042");
        $("lookup-id").reportValidity();
        return;
      }
      $("lookup-id").setCustomValidity("");
      lookUp(id);
      $("lookup-id").blur();
    });
    $("lookup-id").addEventListener("input", () => $("lookup-id").setCustomValidity(""));
    $("logout").addEventListener("click", () => signOut());
    $("end-call").addEventListener("click", endCall);
    $("retry").addEventListener("click", () => {
      state.probeDelay = 1000;
      clearTimeout(state.probeTimer);
      probe();
    });
    $("call-reason").addEventListener("change", () => {
      if (state.call) {
        state.call.callReason = $("call-reason").value;
        sessionStorage.setItem(STORE_CALL, JSON.stringify(state.call));
        decide();
      }
    });
    setInterval(() => state.call && renderCallBar(), 15000);
    checkSession().then((allowed) => {
      const saved = sessionStorage.getItem(STORE_AGENT);
      if (saved && allowed) signIn(saved, false);
      else $("agent-id").focus();
    });
  });
})();
