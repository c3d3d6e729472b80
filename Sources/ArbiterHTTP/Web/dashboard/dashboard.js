// Arbiter's decision dashboard: polls GET /v1/dashboard every 2 s (docs/http-api.md) and draws
// its counters as SVG charts with the page's own code. Nothing is fetched from elsewhere.
// `?api=http://host:port` points the page at another server (which must allow this origin).
"use strict";

(function () {
  const API = (new URLSearchParams(location.search).get("api") || "").replace(/\/$/, "");
  const POLL_MILLIS = 2000;
  const SVG = "http://www.w3.org/2000/svg";
  const DOOR_COLOURS = { grpc: "#1d5fd1", lean: "#12a37f", http: "#e07b00" };
  const EXTRA_COLOURS = ["#7b3fc4", "#c2185b", "#455a64"];
  const DOOR_NAMES = { grpc: "gRPC", lean: "lean", http: "HTTP/JSON" };
  const SUPPRESSION = {
    ALREADY_HELD: "Already holds the product",
    NO_CONSENT: "No consent for the channel",
    RULE: "Does not meet the conditions",
    SUITABILITY: "Not suitable",
    AGE_RULE: "Outside the age limits",
    CHANNEL_NOT_ALLOWED: "Not offered on the channel",
    NOT_VALID_NOW: "Outside its validity dates",
    CONTACT_POLICY: "Contact policy (caps, no repeat, cool-down)",
    BUDGET: "Offer's quota used up",
    CAPACITY: "Channel capacity used up",
    CLOSED: "Outside opening hours",
    CONTROL_GROUP: "Held out: control group",
    BELOW_COST: "Not worth its cost",
    RANKED_BELOW: "Ranked below those shown",
  };

  const $ = (id) => document.getElementById(id);
  const num = (v) => (v === undefined || v === null || v === "" ? 0 : Number(v));
  const state = { snapshot: null, timer: null, failing: false, lastOk: 0, inFlight: false };

  // ---- polling and the unreachable banner ---------------------------------------------------

  async function poll() {
    clearTimeout(state.timer);
    if (state.inFlight) return;
    state.inFlight = true;
    try {
      const response = await fetch(API + "/v1/dashboard", { cache: "no-store" });
      if (response.status === 401 || response.status === 403) {
        // No login session (or it ended), or one without the admin role: the login form, and no
        // polling until it is used.
        const message = await window.arbiterStaff.reason(response);
        setFailing(false);
        showLogin(true);
        if (response.status === 403) $("login-error").textContent = "Signed in, but " + message;
        state.inFlight = false;
        return;
      }
      if (!response.ok) {
        let message = response.statusText;
        try {
          message = (await response.json()).message || message;
        } catch (error) {
          // not JSON
        }
        throw Object.assign(new Error(message), { status: response.status });
      }
      const snapshot = await response.json();
      state.snapshot = snapshot;
      state.lastOk = Date.now();
      setFailing(false);
      render();
    } catch (error) {
      setFailing(true, error);
    } finally {
      state.inFlight = false;
      state.timer = setTimeout(poll, POLL_MILLIS);
    }
  }

  function setFailing(failing, error) {
    const live = $("live");
    state.failing = failing;
    $("banner").hidden = !failing;
    document.body.classList.toggle("offline", failing);
    if (failing) {
      live.dataset.state = "offline";
      live.textContent = error && error.status ? `Server error ${error.status}` : "Offline";
      $("banner-since").textContent = state.lastOk
        ? `The figures below are from ${new Date(state.lastOk).toLocaleTimeString("en-GB")}.`
        : "No figures yet.";
    } else {
      live.dataset.state = "live";
      const at = state.snapshot && num(state.snapshot.atMillis) ? new Date(num(state.snapshot.atMillis)) : new Date();
      live.textContent = `Live · ${at.toLocaleTimeString("en-GB")}`;
    }
  }

  // ---- SVG helpers ----------------------------------------------------------------------------

  function s(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svgIn(container, height, label) {
    const width = Math.max(240, Math.floor(container.clientWidth));
    const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
    container.replaceChildren(svg);
    return { svg, width, height };
  }

  // A scale from 0 with `ticks` round steps that covers `value`.
  function niceScale(value, ticks) {
    const raw = Math.max(value, 1e-9) / ticks;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = power * 10;
    for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= raw) { step = m * power; break; }
    return { max: step * ticks, step };
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  const integer = (v) => Math.round(num(v)).toLocaleString("en-GB");
  const percent = (v, digits = 1) => `${(100 * v).toFixed(digits)}%`;
  function micros(v) {
    v = num(v);
    if (v >= 1000000) return `${(v / 1000000).toFixed(2)} s`;
    if (v >= 1000) return `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)} ms`;
    return `${Math.round(v)} µs`;
  }
  function compact(v) {
    v = num(v);
    if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
    if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
    return integer(v);
  }

  function doorColour(door, i) {
    return DOOR_COLOURS[door] || EXTRA_COLOURS[i % EXTRA_COLOURS.length];
  }

  function empty(container, text) {
    container.replaceChildren(Object.assign(document.createElement("p"), { className: "empty", textContent: text }));
  }

  // ---- the charts -------------------------------------------------------------------------------

  function render() {
    const snap = state.snapshot;
    if (!snap) return;
    renderHeader(snap);
    renderKpis(snap);
    renderRate(snap);
    renderLatency(snap);
    renderPacing(snap);
    renderOffers(snap);
    renderLift(snap);
    renderSuppression(snap);
    renderPromotions(snap);
  }

  function renderPromotions(snap) {
    const container = $("promotions");
    const verdicts = snap.promotions || [];
    if (!verdicts.length) {
      empty(container, "No verdict yet. With a challenger in the shadow, arbiter-tools promote --dry-run judges it on the recent log.");
      return;
    }
    const fixed = (v) => (Number.isFinite(num(v)) ? num(v).toFixed(4) : "—");
    const cell = (text, className) => Object.assign(document.createElement("td"), { textContent: text, className: className || "" });
    const table = document.createElement("table");
    table.className = "verdicts";
    const head = table.createTHead().insertRow();
    for (const title of ["When", "Verdict", "Challenger vs champion", "Challenger (DR, 95%)", "Champion + margin", "Decisions (effective)", "Why"]) {
      head.appendChild(Object.assign(document.createElement("th"), { textContent: title }));
    }
    const body = table.createTBody();
    for (const v of verdicts) {
      const row = body.insertRow();
      const when = v.atMillis ? new Date(num(v.atMillis)).toLocaleString("en-GB") : "—";
      row.appendChild(cell(when));
      const verdict = cell(v.promoted ? "promoted" : v.approved ? "approved" : "refused", "verdict");
      verdict.dataset.approved = String(Boolean(v.approved));
      row.appendChild(verdict);
      row.appendChild(cell(`${v.challenger || "?"} vs ${v.champion || "?"}`));
      row.appendChild(cell(`${fixed(v.challengerValue)} [${fixed(v.challengerLower)}, ${fixed(v.challengerUpper)}]`));
      row.appendChild(cell(`${fixed(v.championValue)} + ${fixed(v.margin || 0)}`));
      row.appendChild(cell(`${integer(num(v.rounds))} (${integer(Math.round(num(v.effectiveSampleSize)))})`));
      row.appendChild(cell(v.reason || "", "reason"));
    }
    container.replaceChildren(table);
  }

  function renderHeader(snap) {
    const b = snap.bundle || {};
    $("bundle-name").textContent = b.bundleName ? `${b.bundleName} ${b.bundleVersion || ""}`.trim() : "—";
    $("bundle-name").title = `catalogue ${b.catalogueVersion || "—"} · schema ${b.schemaHash || "—"}`;
    const c = snap.challenger || {};
    const challenger = $("challenger");
    if (c.active) {
      const name = c.bundlePath || (c.challenger && `${c.challenger.bundleName || ""} ${c.challenger.bundleVersion || ""}`.trim()) || "loaded";
      challenger.textContent = `${name.split("/").filter(Boolean).pop()} · scores ${percent(num(c.share), 0)} of decisions`;
      challenger.title = c.bundlePath || "";
      challenger.dataset.active = "true";
    } else {
      challenger.textContent = "none";
      challenger.dataset.active = "false";
    }
  }

  function renderKpis(snap) {
    const doors = snap.doors || [];
    const total = doors.reduce((sum, d) => sum + num(d.decisions), 0);
    $("kpi-decisions").textContent = integer(total);
    $("kpi-decisions").dataset.value = String(total);
    $("kpi-decisions-sub").textContent = doors.map((d) => `${DOOR_NAMES[d.door] || d.door} ${compact(d.decisions)}`).join(" · ");
    // the last 5 s: the newest second is still being counted
    const rate = doors.reduce((sum, d) => sum + (d.perSecond || []).slice(-5).reduce((a, v) => a + num(v), 0), 0) / 5;
    $("kpi-rate").textContent = rate >= 10 || rate === 0 ? integer(rate) : rate.toFixed(1);
    const offers = snap.offers || [];
    const made = offers.reduce((sum, o) => sum + num(o.made), 0);
    const accepted = offers.reduce((sum, o) => sum + num(o.accepted), 0);
    const declined = offers.reduce((sum, o) => sum + num(o.declined), 0);
    $("kpi-made").textContent = integer(made);
    $("kpi-made").dataset.value = String(made);
    $("kpi-made-sub").textContent = `${offers.length} offers in the catalogue`;
    $("kpi-accepted").textContent = integer(accepted);
    $("kpi-accepted").dataset.value = String(accepted);
    $("kpi-accepted-sub").textContent = made ? `${percent(accepted / made, 2)} of offers made · ${integer(declined)} declined` : `${integer(declined)} declined`;
    const suppressed = (snap.suppression || []).reduce((sum, x) => sum + num(x.count), 0);
    $("kpi-suppressed").textContent = integer(suppressed);
  }

  function renderRate(snap) {
    const container = $("chart-rate");
    const doors = snap.doors || [];
    if (!doors.length) return empty(container, "No doors reported.");
    const { svg, width, height } = svgIn(container, 172, "Decisions per second per door over the last 120 seconds");
    const left = 44, right = 112, top = 10, bottom = 24;
    const plotW = width - left - right, plotH = height - top - bottom;
    const points = 120;
    const { max, step } = niceScale(Math.max(4, ...doors.flatMap((d) => (d.perSecond || []).map(num))), 4);
    const x = (i) => left + (plotW * i) / (points - 1);
    const y = (v) => top + plotH - (plotH * v) / max;
    for (let k = 0; k <= 4; k++) {
      const v = step * k;
      svg.append(s("line", { x1: left, x2: left + plotW, y1: y(v), y2: y(v), class: k ? "grid" : "axis" }));
      svg.append(s("text", { x: left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, compact(v)));
    }
    for (const [i, label] of [[0, "−120 s"], [30, "−90 s"], [60, "−60 s"], [90, "−30 s"], [119, "now"]]) {
      svg.append(s("text", { x: x(i), y: height - 6, class: "tick", "text-anchor": i === 0 ? "start" : i === 119 ? "end" : "middle" }, label));
    }
    doors.forEach((door, i) => {
      const series = (door.perSecond || []).map(num).slice(-points);
      const offset = points - series.length;
      const colour = doorColour(door.door, i);
      if (series.length) {
        const path = series.map((v, k) => `${k ? "L" : "M"}${x(offset + k).toFixed(1)},${y(v).toFixed(1)}`).join("");
        svg.append(s("path", { d: path, fill: "none", stroke: colour, "stroke-width": 2, "stroke-linejoin": "round", class: "series", "data-door": door.door }));
      }
      const ly = top + 8 + i * 44;
      svg.append(
        s(
          "g",
          { class: "legend", "data-door": door.door, "data-decisions": String(num(door.decisions)) },
          s("rect", { x: width - right + 12, y: ly - 8, width: 10, height: 10, rx: 2, fill: colour }),
          s("text", { x: width - right + 28, y: ly + 1, class: "legend-name" }, DOOR_NAMES[door.door] || door.door),
          s("text", { x: width - right + 28, y: ly + 17, class: "legend-value" }, `${integer(series.slice(-1)[0] || 0)}/s · ${compact(door.decisions)}`)
        )
      );
    });
  }

  function renderLatency(snap) {
    const container = $("chart-latency");
    const doors = snap.doors || [];
    if (!doors.length) return empty(container, "No doors reported.");
    const { svg, width, height } = svgIn(container, 172, "Latency percentiles per door");
    const left = 44, right = 8, top = 18, bottom = 36;
    const plotW = width - left - right, plotH = height - top - bottom;
    const keys = [["p50Micros", "p50", 0.45], ["p90Micros", "p90", 0.7], ["p99Micros", "p99", 1]];
    const { max, step } = niceScale(Math.max(4, ...doors.flatMap((d) => keys.map(([k]) => num(d[k])))), 4);
    const y = (v) => top + plotH - (plotH * v) / max;
    for (let k = 0; k <= 4; k++) {
      const v = step * k;
      svg.append(s("line", { x1: left, x2: left + plotW, y1: y(v), y2: y(v), class: k ? "grid" : "axis" }));
      svg.append(s("text", { x: left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, micros(v)));
    }
    const groupW = plotW / doors.length;
    const barW = Math.min(34, (groupW - 24) / 3);
    doors.forEach((door, i) => {
      const colour = doorColour(door.door, i);
      const x0 = left + groupW * i + (groupW - barW * 3 - 8) / 2;
      const group = s("g", { "data-door": door.door });
      if (!num(door.decisions)) {
        group.append(s("text", { x: left + groupW * i + groupW / 2, y: top + plotH - 8, class: "no-data", "text-anchor": "middle" }, "no decisions"));
        group.append(s("text", { x: left + groupW * i + groupW / 2, y: height - 4, class: "group-label", "text-anchor": "middle" }, DOOR_NAMES[door.door] || door.door));
        svg.append(group);
        return;
      }
      keys.forEach(([key, label, opacity], k) => {
        const v = num(door[key]);
        const bx = x0 + k * (barW + 4);
        group.append(s("rect", { x: bx, y: y(v), width: barW, height: Math.max(0, top + plotH - y(v)), fill: colour, "fill-opacity": opacity, rx: 2 }, s("title", {}, `${DOOR_NAMES[door.door] || door.door} ${label}: ${micros(v)}`)));
        group.append(s("text", { x: bx + barW / 2, y: y(v) - 4, class: "bar-value", "text-anchor": "middle" }, micros(v)));
        group.append(s("text", { x: bx + barW / 2, y: top + plotH + 13, class: "tick", "text-anchor": "middle" }, label));
      });
      group.append(s("text", { x: left + groupW * i + groupW / 2, y: height - 4, class: "group-label", "text-anchor": "middle" }, DOOR_NAMES[door.door] || door.door));
      svg.append(group);
    });
  }

  function pacingLabel(key, names) {
    const [kind, ...rest] = String(key).split(":");
    const what = rest.join(":");
    if (kind === "quota") return [`Quota`, names.get(what) || what];
    if (kind === "capacity") return [`Capacity`, what.replace(/-/g, " ")];
    return [kind, what];
  }

  function periodText(seconds) {
    seconds = num(seconds);
    if (seconds === 3600) return "per hour";
    if (seconds === 86400) return "per day";
    if (seconds === 604800) return "per week";
    if (seconds % 86400 === 0) return `per ${seconds / 86400} days`;
    if (seconds % 3600 === 0) return `per ${seconds / 3600} h`;
    return `per ${seconds} s`;
  }

  function renderPacing(snap) {
    const container = $("chart-pacing");
    const pacing = snap.pacing || [];
    if (!pacing.length) return empty(container, "No offer quotas or channel capacities in the catalogue.");
    const names = new Map((snap.offers || []).map((o) => [o.offerId, o.name]));
    const rowH = 54;
    const { svg, width } = svgIn(container, Math.max(60, pacing.length * rowH + 4), "Quota and capacity use against their limits");
    const left = 4, right = 4, barH = 14;
    const plotW = width - left - right;
    const now = num(snap.atMillis) || Date.now();
    pacing.forEach((p, i) => {
      const used = num(p.used), limit = num(p.limit), period = num(p.periodSeconds);
      const share = limit > 0 ? Math.min(1, used / limit) : 0;
      const elapsed = period > 0 ? Math.min(1, Math.max(0, (now - num(p.periodStartMillis)) / (period * 1000))) : 0;
      const ahead = share > elapsed + 0.05;
      const [kind, what] = pacingLabel(p.key, names);
      const y0 = i * rowH + 14;
      const group = s("g", { class: "pacing", "data-key": p.key, "data-used": String(used), "data-limit": String(limit) });
      group.append(s("text", { x: left, y: y0, class: "row-label" }, s("tspan", { class: "kind" }, `${kind} · `), what, s("tspan", { class: "muted" }, ` ${periodText(period)}`)));
      group.append(s("text", { x: width - right, y: y0, class: "row-value", "text-anchor": "end" }, `${integer(used)} / ${integer(limit)} · ${percent(share, 0)}`));
      const by = y0 + 7;
      group.append(s("rect", { x: left, y: by, width: plotW, height: barH, rx: 3, class: "track" }));
      group.append(s("rect", { x: left, y: by, width: plotW * share, height: barH, rx: 3, class: ahead ? "fill ahead" : "fill" }));
      const px = left + plotW * elapsed;
      group.append(s("line", { x1: px, x2: px, y1: by - 3, y2: by + barH + 3, class: "pace" }, s("title", {}, `${percent(elapsed, 0)} of the period gone`)));
      group.append(
        s("text", { x: left, y: by + barH + 13, class: "tick" }, `${percent(elapsed, 0)} of the period gone · ${ahead ? "ahead of pace: paced down" : share >= 1 ? "used up" : "within pace"}`)
      );
      svg.append(group);
    });
  }

  function renderOffers(snap) {
    const container = $("chart-offers");
    const offers = (snap.offers || []).slice().sort((a, b) => num(b.made) - num(a.made) || String(a.name).localeCompare(String(b.name)));
    if (!offers.length) return empty(container, "No offers yet.");
    const rowH = 15.5, top = 16;
    const { svg, width } = svgIn(container, top + offers.length * rowH + 2, "Offers made, accepted and acceptance rate per offer");
    const labelW = Math.min(180, width * 0.38), rateW = Math.min(100, width * 0.22), gap = 10;
    const madeX = labelW + gap, madeW = width - labelW - rateW - 3 * gap - 74;
    const rateX = madeX + madeW + 60 + gap;
    const maxMade = niceMax(Math.max(1, ...offers.map((o) => num(o.made))));
    const rates = offers.map((o) => (num(o.made) ? num(o.accepted) / num(o.made) : 0));
    const maxRate = niceMax(Math.max(0.001, ...rates));
    svg.append(s("text", { x: madeX, y: 10, class: "col-head" }, "made / accepted"));
    svg.append(s("text", { x: rateX, y: 10, class: "col-head" }, "acceptance rate"));
    offers.forEach((o, i) => {
      const y0 = top + i * rowH;
      const made = num(o.made), accepted = num(o.accepted), rate = rates[i];
      const group = s("g", { class: "offer-row", "data-offer-id": o.offerId, "data-made": String(made), "data-accepted": String(accepted) });
      group.append(s("text", { x: labelW, y: y0 + 10.5, class: "row-label", "text-anchor": "end" }, truncate(o.name || o.offerId, labelW / 6.0), s("title", {}, o.name || o.offerId)));
      group.append(s("rect", { x: madeX, y: y0 + 2, width: Math.max(made ? 1 : 0, (madeW * made) / maxMade), height: rowH - 4.5, class: "made", rx: 2 }));
      group.append(s("rect", { x: madeX, y: y0 + 2, width: Math.max(accepted ? 1 : 0, (madeW * accepted) / maxMade), height: rowH - 4.5, class: "accepted", rx: 2 }));
      group.append(s("text", { x: madeX + (madeW * made) / maxMade + 4, y: y0 + 10.5, class: "bar-value" }, `${compact(made)}${accepted ? " / " + compact(accepted) : ""}`));
      group.append(s("rect", { x: rateX, y: y0 + 2, width: rateW, height: rowH - 4.5, class: "track", rx: 2 }));
      group.append(s("rect", { x: rateX, y: y0 + 2, width: (rateW * rate) / maxRate, height: rowH - 4.5, class: "rate", rx: 2 }));
      group.append(s("text", { x: rateX + rateW + 4, y: y0 + 10.5, class: "bar-value" }, made ? percent(rate, rate < 0.1 ? 1 : 0) : "—"));
      svg.append(group);
    });
  }

  function truncate(text, chars) {
    text = String(text);
    const n = Math.max(6, Math.floor(chars));
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  // Difference of two proportions with a 95% interval (normal approximation), or null when the
  // groups are too small for the approximation: n ≥ 30 and ≥ 5 accepted and not accepted in each.
  function lift(g) {
    const nT = num(g.treatmentDecisions), aT = num(g.treatmentAccepted);
    const nC = num(g.controlDecisions), aC = num(g.controlAccepted);
    const pT = nT ? aT / nT : 0, pC = nC ? aC / nC : 0;
    const enough = nT >= 30 && nC >= 30 && aT >= 5 && nT - aT >= 5 && aC >= 5 && nC - aC >= 5;
    if (!enough) return { enough: false, pT, pC, nT, nC };
    const diff = pT - pC;
    const se = Math.sqrt((pT * (1 - pT)) / nT + (pC * (1 - pC)) / nC);
    return { enough: true, pT, pC, nT, nC, diff, low: diff - 1.96 * se, high: diff + 1.96 * se };
  }

  function renderLift(snap) {
    const container = $("chart-lift");
    const groups = (snap.groups || []).slice().sort((a, b) => String(a.group).localeCompare(String(b.group)));
    if (!groups.length) return empty(container, "No offer groups yet.");
    const rows = groups.map((g) => ({ g, l: lift(g) }));
    const rowH = 30, top = 16, bottom = 16;
    const { svg, width } = svgIn(container, top + rows.length * rowH + bottom, "Lift per offer group with 95% confidence intervals");
    const labelW = 82;
    const plotX = labelW + 10, plotW = width - plotX - 14;
    const extent = Math.max(0.01, ...rows.filter((r) => r.l.enough).map((r) => Math.max(Math.abs(r.l.low), Math.abs(r.l.high))));
    const span = niceScale(extent * 100, 2).max / 100;
    const x = (v) => plotX + plotW * (0.5 + v / (2 * span));
    const plotBottom = top + rows.length * rowH;
    for (const v of [-span, -span / 2, 0, span / 2, span]) {
      svg.append(s("line", { x1: x(v), x2: x(v), y1: top - 2, y2: plotBottom, class: v === 0 ? "zero" : "grid" }));
      svg.append(s("text", { x: x(v), y: plotBottom + 13, class: "tick", "text-anchor": "middle" }, `${v > 0 ? "+" : v < 0 ? "−" : ""}${Math.abs(v * 100).toFixed(span < 0.04 ? 1 : 0)} pp`));
    }
    svg.append(s("text", { x: x(-span), y: 10, class: "col-head" }, "◀ control better"));
    svg.append(s("text", { x: x(span), y: 10, class: "col-head", "text-anchor": "end" }, "treatment better ▶"));
    rows.forEach(({ g, l }, i) => {
      const y0 = top + i * rowH;
      const cy = y0 + 10;
      const group = s("g", { class: "lift-row", "data-group": g.group, "data-enough": String(l.enough) });
      group.append(s("text", { x: labelW, y: cy + 4, class: "row-label", "text-anchor": "end" }, String(g.group).replace(/-/g, " ")));
      const short = (p) => percent(p, p >= 0.1 || p === 0 ? 0 : 1);
      const counts = `T ${short(l.pT)} vs C ${short(l.pC)} · n ${compact(l.nT)}/${compact(l.nC)}`;
      if (l.enough) {
        const cls = l.low > 0 ? "good" : l.high < 0 ? "bad" : "neutral";
        group.append(s("line", { x1: x(l.low), x2: x(l.high), y1: cy, y2: cy, class: `whisker ${cls}` }));
        group.append(s("line", { x1: x(l.low), x2: x(l.low), y1: cy - 5, y2: cy + 5, class: `whisker ${cls}` }));
        group.append(s("line", { x1: x(l.high), x2: x(l.high), y1: cy - 5, y2: cy + 5, class: `whisker ${cls}` }));
        group.append(s("circle", { cx: x(l.diff), cy, r: 4.5, class: `dot ${cls}` }, s("title", {}, `${g.group}: lift ${pp(l.diff)} (95% CI ${pp(l.low)} to ${pp(l.high)})`)));
        group.append(s("text", { x: plotX, y: y0 + 25, class: "tick halo" }, s("tspan", { class: `lift-value ${cls}` }, `${pp(l.diff, false)} [${pp(l.low, false)}, ${pp(l.high, false)}] pp`)));
        group.append(s("text", { x: width - 2, y: y0 + 25, class: "tick halo", "text-anchor": "end" }, counts));
      } else {
        group.append(s("text", { x: x(0), y: cy + 4, class: "no-data halo", "text-anchor": "middle" }, "not enough data"));
        group.append(s("text", { x: width - 2, y: y0 + 25, class: "tick halo", "text-anchor": "end" }, counts));
      }
      svg.append(group);
    });
  }

  function pp(v, unit = true) {
    const text = Math.abs(v * 100).toFixed(1);
    return `${v > 0 ? "+" : v < 0 ? "−" : ""}${text}${unit ? " pp" : ""}`;
  }

  function renderSuppression(snap) {
    const container = $("chart-suppression");
    const items = (snap.suppression || []).filter((x) => num(x.count) > 0).sort((a, b) => num(b.count) - num(a.count));
    if (!items.length) return empty(container, "Nothing suppressed yet.");
    const rowH = 22;
    const { svg, width } = svgIn(container, items.length * rowH + 6, "Suppression reasons by count");
    const labelW = Math.min(200, width * 0.52), valueW = 52;
    const barX = labelW + 8, barW = width - barX - valueW;
    const max = Math.max(1, ...items.map((x) => num(x.count)));
    items.forEach((item, i) => {
      const y0 = i * rowH + 3;
      const count = num(item.count);
      const label = SUPPRESSION[item.code] || String(item.code).toLowerCase().replace(/_/g, " ");
      const group = s("g", { class: "supp-row", "data-code": item.code, "data-count": String(count) });
      group.append(s("text", { x: labelW, y: y0 + 13, class: "row-label", "text-anchor": "end" }, truncate(label, labelW / 6), s("title", {}, `${label} (${item.code})`)));
      group.append(s("rect", { x: barX, y: y0 + 3, width: Math.max(1, (barW * count) / max), height: rowH - 8, class: "supp", rx: 2 }));
      group.append(s("text", { x: barX + (barW * count) / max + 4, y: y0 + 13, class: "bar-value" }, compact(count)));
      svg.append(group);
    });
  }

  // ---- wiring ----------------------------------------------------------------------------------

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(render, 120);
  });

  // ---- the login (when the server requires credentials) ---------------------------------------

  function showLogin(shown) {
    $("login").hidden = !shown;
    $("main").hidden = shown;
    if (shown) {
      $("live").dataset.state = "offline";
      $("live").textContent = "Signed out";
      $("access-key").focus();
    }
  }

  async function logIn(event) {
    event.preventDefault();
    $("login-error").textContent = "";
    try {
      await window.arbiterStaff.logIn(API, $("access-key").value.trim());
    } catch (error) {
      $("login-error").textContent = "Not signed in: " + error.message;
      return;
    }
    $("access-key").value = "";
    showLogin(false);
    poll();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", logIn);
    $("retry").addEventListener("click", () => poll());
    poll();
  });
})();
