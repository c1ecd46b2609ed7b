// kayako-voice dashboard: fetches /api/report and draws every chart as inline SVG (no libraries,
// works offline). Text from the data is set with textContent only, never parsed as HTML.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = { resolved: "#2e9e6b", escalated: "#e08a1e", abandoned: "#c0392b", other: "#9aa3af" };
  const params = new URLSearchParams(location.search);
  let token = params.get("token") || sessionStorage.getItem("kv-token") || "";
  if (params.get("token")) {
    sessionStorage.setItem("kv-token", token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
  }

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function html(name, cls, text) {
    const node = document.createElement(name);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svgBox(w, h, id) {
    return el("svg", { viewBox: `0 0 ${w} ${h}`, "data-chart": id, role: "img" });
  }
  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  // axis: a whole-number step (1, 2, 5, 10, ...) and the top tick at or above v
  function axis(v) {
    const step = Math.max(1, Math.round(niceMax(v / 4)));
    const top = Math.max(step, Math.ceil(v / step) * step);
    return { step, top };
  }
  function pct(x) { return x === null || x === undefined ? "–" : (x * 100).toFixed(1) + "%"; }
  function num(x, unit) { return x === null || x === undefined ? "–" : Math.round(x) + (unit || ""); }
  function dur(s) {
    if (s === null || s === undefined) return "–";
    const m = Math.floor(s / 60), r = Math.round(s % 60);
    return m ? `${m}m ${r}s` : `${r}s`;
  }
  function empty(svg, w, h, msg) {
    svg.appendChild(el("text", { x: w / 2, y: h / 2, "text-anchor": "middle", class: "empty" }, msg || "no data yet"));
  }

  function cards(r) {
    const box = document.getElementById("cards");
    box.replaceChildren();
    const ob = r.outbox || {};
    const items = [
      ["Calls", r.total_calls, "total_calls"],
      ["Resolved by AI", pct(r.resolution_rate), "resolution_rate"],
      ["Escalated", pct(r.escalation_rate), "escalation_rate"],
      ["Abandoned", pct(r.abandonment_rate), "abandonment_rate"],
      ["Avg handling", dur(r.avg_handling_s), "avg_handling_s"],
      ["Latency p50", num(r.latency.p50_ms, " ms"), "latency_p50"],
      ["Latency p95", num(r.latency.p95_ms, " ms"), "latency_p95", r.latency.p95_ms > 1000],
      ["Cases waiting", r.outbox ? ob.pending : "–", "outbox_pending"],
      ["Cases dead", r.outbox ? ob.dead : "–", "outbox_dead", r.outbox && ob.dead > 0],
    ];
    for (const [label, value, key, bad] of items) {
      const c = html("div", "card" + (bad ? " bad" : ""));
      c.dataset.key = key;
      c.appendChild(html("div", "label", label));
      c.appendChild(html("div", "value", String(value)));
      box.appendChild(c);
    }
  }

  function daily(r) {
    const W = 760, H = 240, L = 36, B = 40, T = 20, R = 10;
    const svg = svgBox(W, H, "daily");
    const days = r.by_day;
    if (!days.length) { empty(svg, W, H); return svg; }
    const ax = axis(Math.max(...days.map(d => d.calls))), max = ax.top;
    const pw = W - L - R, ph = H - T - B, bw = pw / days.length;
    for (let v = 0; v <= max; v += ax.step) {
      const y = T + ph - (ph * v) / max;
      svg.appendChild(el("line", { x1: L, x2: W - R, y1: y, y2: y, class: "axis" }));
      svg.appendChild(el("text", { x: L - 4, y: y + 4, "text-anchor": "end" }, String(v)));
    }
    days.forEach((d, i) => {
      const x = L + i * bw + bw * 0.15, w = bw * 0.7;
      let y = T + ph;
      const other = d.calls - d.resolved - d.escalated - d.abandoned;
      for (const [k, v] of [["resolved", d.resolved], ["escalated", d.escalated], ["abandoned", d.abandoned], ["other", other]]) {
        if (v <= 0) continue;
        const h = (ph * v) / max;
        y -= h;
        const rect = el("rect", { x, y, width: w, height: h, fill: COLORS[k], "data-day": d.day, "data-kind": k, "data-value": v });
        rect.appendChild(el("title", {}, `${d.day}: ${v} ${k}`));
        svg.appendChild(rect);
      }
      svg.appendChild(el("text", { x: x + w / 2, y: y - 3, "text-anchor": "middle" }, String(d.calls)));
      if (days.length <= 16 || i % Math.ceil(days.length / 16) === 0)
        svg.appendChild(el("text", { x: x + w / 2, y: H - B + 14, "text-anchor": "middle" }, d.day.slice(5)));
    });
    let lx = L;
    const kinds = ["resolved", "escalated", "abandoned"];
    if (days.some(d => d.calls > d.resolved + d.escalated + d.abandoned)) kinds.push("other");
    for (const k of kinds) {
      svg.appendChild(el("rect", { x: lx, y: H - 14, width: 10, height: 10, fill: COLORS[k] }));
      const label = k === "other" ? "in progress / no outcome" : k;
      svg.appendChild(el("text", { x: lx + 14, y: H - 5 }, label));
      lx += 30 + label.length * 6.5;
    }
    return svg;
  }

  function donut(r) {
    const W = 360, H = 240, cx = 110, cy = 120, R0 = 90, R1 = 55;
    const svg = svgBox(W, H, "outcomes");
    const parts = ["resolved", "escalated", "abandoned"].map(k => [k, r.outcomes[k] || 0]);
    const total = parts.reduce((s, p) => s + p[1], 0);
    if (!total) { empty(svg, W, H); return svg; }
    let a = -Math.PI / 2;
    for (const [k, v] of parts) {
      if (!v) continue;
      const b = a + (2 * Math.PI * v) / total;
      const large = b - a > Math.PI ? 1 : 0;
      const p = (rad, ang) => `${cx + rad * Math.cos(ang)} ${cy + rad * Math.sin(ang)}`;
      let d;
      if (v === total) {
        d = `M ${p(R0, 0)} A ${R0} ${R0} 0 1 1 ${p(R0, Math.PI)} A ${R0} ${R0} 0 1 1 ${p(R0, 0)} ` +
            `M ${p(R1, 0)} A ${R1} ${R1} 0 1 0 ${p(R1, Math.PI)} A ${R1} ${R1} 0 1 0 ${p(R1, 0)} Z`;
      } else {
        d = `M ${p(R0, a)} A ${R0} ${R0} 0 ${large} 1 ${p(R0, b)} L ${p(R1, b)} A ${R1} ${R1} 0 ${large} 0 ${p(R1, a)} Z`;
      }
      const path = el("path", { d, fill: COLORS[k], "fill-rule": "evenodd", "data-kind": k, "data-value": v });
      path.appendChild(el("title", {}, `${k}: ${v}`));
      svg.appendChild(path);
      a = b;
    }
    svg.appendChild(el("text", { x: cx, y: cy + 2, "text-anchor": "middle", class: "big" }, String(total)));
    svg.appendChild(el("text", { x: cx, y: cy + 18, "text-anchor": "middle" }, "ended calls"));
    parts.forEach(([k, v], i) => {
      const y = 80 + i * 30;
      svg.appendChild(el("rect", { x: 220, y: y - 10, width: 12, height: 12, fill: COLORS[k] }));
      svg.appendChild(el("text", { x: 238, y }, `${k} ${v} (${((100 * v) / total).toFixed(0)}%)`));
    });
    return svg;
  }

  function hourly(r) {
    const W = 360, H = 200, L = 28, B = 22, T = 10, R = 6;
    const svg = svgBox(W, H, "hourly");
    const hrs = r.by_hour;
    const top = Math.max(...hrs);
    if (!top) { empty(svg, W, H); return svg; }
    const ax = axis(top), max = ax.top, pw = W - L - R, ph = H - T - B, bw = pw / 24;
    for (let v = 0; v <= max; v += ax.step) {
      const y = T + ph - (ph * v) / max;
      svg.appendChild(el("line", { x1: L, x2: W - R, y1: y, y2: y, class: "axis" }));
      svg.appendChild(el("text", { x: L - 4, y: y + 4, "text-anchor": "end" }, String(v)));
    }
    hrs.forEach((v, i) => {
      const h = (ph * v) / max;
      const rect = el("rect", { x: L + i * bw + 1, y: T + ph - h, width: bw - 2, height: h, fill: "#3b6fd8", "data-hour": i, "data-value": v });
      rect.appendChild(el("title", {}, `${String(i).padStart(2, "0")}:00 ${v} calls`));
      svg.appendChild(rect);
      if (i % 3 === 0) svg.appendChild(el("text", { x: L + i * bw + bw / 2, y: H - 6, "text-anchor": "middle" }, String(i).padStart(2, "0")));
    });
    return svg;
  }

  function hbars(id, rows, unit, footer) {
    const W = 360, rowH = 24, L = 150, R = 36;
    const H = Math.max(60, rows.length * rowH + 10 + (footer ? 22 : 0));
    const svg = svgBox(W, H, id);
    if (!rows.length) { empty(svg, W, H); return svg; }
    const max = Math.max(1, ...rows.map(r => r.value));
    rows.forEach((row, i) => {
      const y = 5 + i * rowH, w = ((W - L - R) * row.value) / max;
      const label = row.label.length > 24 ? row.label.slice(0, 23) + "…" : row.label;
      const t = el("text", { x: L - 6, y: y + 15, "text-anchor": "end" }, label);
      t.appendChild(el("title", {}, row.label));
      svg.appendChild(t);
      svg.appendChild(el("rect", { x: L, y: y + 3, width: Math.max(w, 1), height: rowH - 8, fill: row.color || "#3b6fd8", rx: 2, "data-label": row.label, "data-value": row.value }));
      svg.appendChild(el("text", { x: L + w + 4, y: y + 15 }, String(row.value) + (unit || "")));
    });
    if (footer) svg.appendChild(el("text", { x: L, y: H - 8, class: "empty" }, footer));
    return svg;
  }

  function latency(r) {
    const W = 360, H = 150, L = 50, R = 20, budget = 1000;
    const svg = svgBox(W, H, "latency");
    const lat = r.latency;
    if (!lat.count) { empty(svg, W, H, "no measured turns yet"); return svg; }
    const max = niceMax(Math.max(budget * 1.2, lat.p95_ms || 0, lat.p50_ms || 0));
    const sx = v => L + ((W - L - R) * v) / max;
    [["p50", lat.p50_ms, 20], ["p95", lat.p95_ms, 60]].forEach(([name, v, y]) => {
      const color = v > budget ? "#c0392b" : "#2e9e6b";
      svg.appendChild(el("text", { x: L - 6, y: y + 17, "text-anchor": "end" }, name));
      svg.appendChild(el("rect", { x: L, y, width: Math.max(sx(v) - L, 1), height: 26, fill: color, rx: 2, "data-kind": name, "data-value": v }));
      svg.appendChild(el("text", { x: sx(v) + 4, y: y + 17 }, `${Math.round(v)} ms`));
    });
    svg.appendChild(el("line", { x1: sx(budget), x2: sx(budget), y1: 10, y2: 100, stroke: "#1d2330", "stroke-dasharray": "4 3" }));
    svg.appendChild(el("text", { x: sx(budget), y: 115, "text-anchor": "middle" }, "1 s budget"));
    svg.appendChild(el("text", { x: L, y: 140 }, `${lat.count} agent turns measured, max ${Math.round(lat.max_ms)} ms`));
    return svg;
  }

  function outbox(r) {
    const ob = r.outbox;
    if (!ob) {
      const W = 360, H = 60, svg = svgBox(W, H, "outbox");
      empty(svg, W, H, "outbox not connected");
      return svg;
    }
    const footer = ob.oldest_pending_age_s === null ? "" : `oldest waiting for ${dur(ob.oldest_pending_age_s)}`;
    return hbars("outbox", [
      { label: "waiting", value: ob.pending, color: "#e08a1e" },
      { label: "dead (needs an operator)", value: ob.dead, color: "#c0392b" },
      { label: "delivered", value: ob.delivered, color: "#2e9e6b" },
    ], "", footer);
  }

  function put(id, node) { document.getElementById(id).replaceChildren(node); }

  function render(r) {
    cards(r);
    const first = r.first_call_at ? r.first_call_at.slice(0, 10) : "–", last = r.last_call_at ? r.last_call_at.slice(0, 10) : "–";
    document.getElementById("period").textContent = `${r.total_calls} calls, ${first} to ${last}`;
    put("chart-daily", daily(r));
    put("chart-outcomes", donut(r));
    put("chart-hourly", hourly(r));
    put("chart-latency", latency(r));
    put("chart-articles", hbars("articles", r.top_articles.map(d => ({ label: d.label, value: d.calls }))));
    put("chart-tags", hbars("tags", r.top_tags.map(d => ({ label: d.label, value: d.calls, color: "#7a5cc7" }))));
    put("chart-outbox", outbox(r));
    document.body.dataset.rendered = "yes";
  }

  async function load() {
    const since = document.getElementById("since").value;
    const q = since ? "?since=" + encodeURIComponent(since) : "";
    const err = document.getElementById("error");
    try {
      const resp = await fetch("/api/report" + q, { headers: token ? { Authorization: "Bearer " + token } : {} });
      const body = await resp.json();
      if (!resp.ok) throw new Error(body.error || resp.statusText);
      err.hidden = true;
      render(body);
    } catch (e) {
      err.textContent = "Could not load the report: " + e.message + (token ? "" : " (open this page with ?token=<viewer token>)");
      err.hidden = false;
      document.body.dataset.rendered = "error";
    }
  }
  document.getElementById("range").addEventListener("submit", ev => { ev.preventDefault(); load(); });
  load();
})();
