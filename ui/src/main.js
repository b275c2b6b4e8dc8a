// castlegate's network map page. Reads the API with the user's key (sessionStorage, sent as
// Authorization: Bearer), draws /v1/graphs/{g}/map with sigma, and opens an account's card
// from the analysis endpoints. Everything comes from this origin: no CDN, no inline code.
import Graph from "graphology";
import Sigma from "sigma";
import { createNodeBorderProgram } from "@sigma/node-border";
import uPlot from "uplot";

const KEY_STORAGE = "castlegate.key";
const LAYERS = ["reply", "quote", "mention", "repost", "like", "follow"];
const DEFAULT_LAYERS = ["reply", "quote", "mention", "repost", "like"];
const CASTLE_COLOR = "#1b1b1b";
const POD_COLOR = "#ff2d95";
const HULL_COLOR = "rgba(27, 27, 27, 0.55)";
const LABELLED = 6; // top gatekeepers and top trusted voices labelled on the map
const POLL_MS = 250;

const $ = (id) => document.getElementById(id);

const state = {
  graph: null,
  level: null,
  community: null,
  data: null,
  nodes: [],
  castleNodes: [],
  podNodes: [],
  labelled: [],
  card: null,
  loading: false,
  error: null,
  violations: [],
  requests: 0,
};
let renderer = null;
let graph = null;
let chart = null;
let cardSeq = 0;
let mapSeq = 0;
// the current map's gatekeeper and trusted-voice rankings, by account (for the card)
let rankings = { key: null, gatekeepers: null, trusted: null };

document.addEventListener("securitypolicyviolation", (e) => {
  state.violations.push(`${e.violatedDirective} ${e.blockedURI}`);
});

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function key() {
  return sessionStorage.getItem(KEY_STORAGE);
}

function url(path, params = {}) {
  const u = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

async function request(path) {
  state.requests += 1;
  const r = await fetch(path, {
    headers: { Authorization: `Bearer ${key()}`, Accept: "application/json" },
    cache: "no-store",
    credentials: "omit",
    redirect: "error",
  });
  let body = null;
  const text = await r.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (r.status === 401) {
    throw new ApiError(401, (body && body.detail) || "the API key was refused");
  }
  if (!r.ok) {
    const detail = (body && (body.detail || body.title)) || `${r.status} ${r.statusText}`;
    throw new ApiError(r.status, detail);
  }
  return { status: r.status, body };
}

// An analysis answer: 200 at once, or 202 with a job to follow until it is done.
async function api(path, params = {}, onProgress = null) {
  const target = url(path, params);
  let { status, body } = await request(target);
  if (status !== 202) return body;
  let job = body;
  while (job.status !== "done") {
    if (["failed", "cancelled"].includes(job.status)) {
      throw new ApiError(500, `the analysis ${job.status}: ${job.error || job.error_kind || "no reason given"}`);
    }
    if (onProgress) onProgress(job);
    await new Promise((ok) => setTimeout(ok, POLL_MS));
    job = (await request(job.links.self)).body;
  }
  ({ status, body } = await request(target));
  if (status === 202) throw new ApiError(500, "the answer was computed but is not in the cache any more");
  return body;
}

async function allItems(path, params = {}) {
  const out = [];
  let after = null;
  for (;;) {
    const page = await api(path, { ...params, limit: 1000, after });
    out.push(...page.items);
    if (!page.next) return out;
    after = page.next;
  }
}

// ---------------------------------------------------------------- formatting

function fmt(x, digits = 3) {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return String(x);
  if (Number.isInteger(x)) return String(x);
  return x.toFixed(digits);
}

// scores: always three decimals (the same text as Python's f"{score:.3f}")
function score(x) {
  return typeof x === "number" ? x.toFixed(3) : "–";
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else if (k === "text") e.textContent = v;
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function status(text, isError = false) {
  const s = $("status");
  s.textContent = text || "";
  s.classList.toggle("error", Boolean(isError));
  s.hidden = !text;
}

// ---------------------------------------------------------------- parameters

function windowParam(id) {
  const v = $(id).value;
  if (!v) return null;
  return (v.length === 16 ? `${v}:00` : v) + "Z";
}

function analysisParams() {
  const layers = LAYERS.filter((l) => $(`layer-${l}`).checked);
  return {
    layers: layers.join(","),
    since: windowParam("since"),
    until: windowParam("until"),
  };
}

// ---------------------------------------------------------------- the map

const NodeProgram = createNodeBorderProgram({
  borders: [
    { size: { attribute: "castleBorder", defaultValue: 0 }, color: { value: CASTLE_COLOR } },
    { size: { attribute: "podBorder", defaultValue: 0 }, color: { value: POD_COLOR } },
    { size: { fill: true }, color: { attribute: "color" } },
  ],
});

// drawn radius: area in proportion to the answer's size, the largest node `big` pixels
function sizeScale(nodes) {
  const max = Math.max(...nodes.map((n) => n.size), 1e-9);
  const small = nodes.length > 500 ? 1.5 : 3;
  const big = nodes.length > 500 ? 10 : nodes.length < 50 ? 28 : 16;
  return (s) => Math.max(small, big * Math.sqrt(Math.max(s, 0) / max));
}

function topIds(nodes, field) {
  return nodes
    .filter((n) => typeof n[field] === "number")
    .sort((a, b) => b[field] - a[field])
    .slice(0, LABELLED)
    .map((n) => n.id);
}

function draw(data) {
  if (renderer) {
    renderer.kill();
    renderer = null;
  }
  const colors = new Map(data.communities.map((c) => [c.id, c.color]));
  const castles = new Set(data.communities.filter((c) => c.castle).map((c) => c.id));
  const podMembers = new Set();
  for (const p of data.pods || []) for (const m of p.members) podMembers.add(m);
  const scale = sizeScale(data.nodes);
  const labelled = new Set(
    data.level === "communities"
      ? data.nodes.map((n) => n.id)
      : [...topIds(data.nodes, "gatekeeper"), ...topIds(data.nodes, "trusted")],
  );

  graph = new Graph({ type: "undirected", multi: false, allowSelfLoops: false });
  const castleNodes = [];
  const podNodes = [];
  for (const n of data.nodes) {
    const inCastle = Boolean(n.castle) || castles.has(n.community);
    const inPod = (n.pods && n.pods.length > 0) || podMembers.has(n.id);
    if (inCastle) castleNodes.push(n.id);
    if (inPod) podNodes.push(n.id);
    graph.addNode(n.id, {
      x: n.x,
      y: n.y,
      size: scale(n.size),
      label: n.label,
      color: colors.get(n.community) || "#999999",
      type: "cg",
      castleBorder: inCastle ? 0.28 : 0,
      podBorder: inPod ? 0.3 : 0,
      forceLabel: labelled.has(n.id),
      community: n.community,
    });
  }
  const maxWeight = Math.max(1, ...data.edges.map((e) => e.weight));
  for (const e of data.edges) {
    if (e.source === e.target || !graph.hasNode(e.source) || !graph.hasNode(e.target)) continue;
    if (graph.hasEdge(e.source, e.target)) continue;
    graph.addEdge(e.source, e.target, {
      size: 0.5 + 3 * Math.sqrt(e.weight / maxWeight),
      color: "#c9ccd3",
      weight: e.weight,
    });
  }

  state.nodes = data.nodes.map((n) => n.id);
  state.castleNodes = castleNodes;
  state.podNodes = podNodes;
  state.labelled = [...labelled].filter((id) => graph.hasNode(id));

  renderer = new Sigma(graph, $("map"), {
    nodeProgramClasses: { cg: NodeProgram },
    defaultNodeType: "cg",
    labelRenderedSizeThreshold: 1e9, // labels only where forced (and on hover)
    labelFont: "system-ui, sans-serif",
    labelSize: 12,
    labelWeight: "600",
    zIndex: true,
    stagePadding: data.level === "communities" ? 150 : 40, // room for the long labels
    minCameraRatio: 0.05,
    maxCameraRatio: 10,
  });
  const hull = renderer.createCanvas("castles", { beforeLayer: "edges" });
  renderer.on("afterRender", () => drawHulls(hull, data, castles));
  renderer.on("clickNode", ({ node }) => onNodeClick(node));
  renderer.on("enterNode", () => ($("map").style.cursor = "pointer"));
  renderer.on("leaveNode", () => ($("map").style.cursor = "default"));
  renderer.refresh();
}

// the map follows its box (the card opening beside it, the window)
new ResizeObserver(() => {
  if (renderer) {
    renderer.resize();
    renderer.refresh();
  }
}).observe(document.getElementById("map"));

// castle communities outlined: the convex hull of their nodes, padded, on a layer below the edges
function drawHulls(canvas, data, castles) {
  if (!renderer) return;
  const ratio = window.devicePixelRatio || 1;
  const { width, height } = renderer.getDimensions();
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  if (data.level !== "accounts") return;
  for (const c of castles) {
    const pts = [];
    graph.forEachNode((id, a) => {
      if (a.community !== c) return;
      const p = renderer.graphToViewport({ x: a.x, y: a.y });
      const r = renderer.scaleSize(a.size) + 10;
      for (let k = 0; k < 8; k++) {
        pts.push([p.x + r * Math.cos((k * Math.PI) / 4), p.y + r * Math.sin((k * Math.PI) / 4)]);
      }
    });
    const h = convexHull(pts);
    if (h.length < 3) continue;
    ctx.beginPath();
    ctx.moveTo(h[0][0], h[0][1]);
    for (const p of h.slice(1)) ctx.lineTo(p[0], p[1]);
    ctx.closePath();
    ctx.fillStyle = "rgba(27, 27, 27, 0.05)";
    ctx.fill();
    ctx.setLineDash([8, 5]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = HULL_COLOR;
    ctx.stroke();
    ctx.setLineDash([]);
    const top = h.reduce((a, b) => (b[1] < a[1] ? b : a));
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.fillStyle = CASTLE_COLOR;
    const text = `castle · community ${c}`;
    const w = ctx.measureText(text).width;
    ctx.fillText(text, Math.min(Math.max(4, top[0] - w / 2), width - w - 4), Math.max(14, top[1] - 6));
  }
}

function convexHull(points) {
  const pts = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length < 3) return pts;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper = [];
  for (const p of pts.slice().reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

function legend(data) {
  const box = $("legend");
  box.replaceChildren();
  box.append(el("h3", { text: "legend" }));
  const list = el("ul");
  for (const c of data.communities) {
    const sw = el("span", { class: "swatch" });
    sw.style.background = c.color;
    if (c.castle) sw.classList.add("castle");
    list.append(el("li", {}, sw, `community ${c.id} · ${c.size}${c.castle ? " · castle" : ""}`));
  }
  const castle = el("span", { class: "swatch ring castle-ring" });
  const pod = el("span", { class: "swatch ring pod-ring" });
  list.append(el("li", {}, castle, "castle: dark ring, dashed outline"));
  list.append(el("li", {}, pod, `pod member: pink ring${data.pods && data.pods.length ? ` (${data.pods.length} pod${data.pods.length > 1 ? "s" : ""})` : ""}`));
  list.append(el("li", { class: "muted", text: "size: node weight; labels: top gatekeepers and trusted voices" }));
  box.append(list);
  const total = el("p", { class: "muted" });
  total.textContent = `${data.nodes.length} ${data.level === "communities" ? "communities" : "accounts"} drawn` +
    ` of ${data.accounts_total} accounts${data.truncated ? " (truncated)" : ""}`;
  box.append(total);
}

function crumbs() {
  const nav = $("crumbs");
  nav.replaceChildren();
  if (state.community !== null) {
    const back = el("button", { type: "button", id: "back", text: "← community overview" });
    back.addEventListener("click", () => loadMap({ community: null, level: "communities" }));
    nav.append(back, el("span", { text: ` community ${state.community}` }));
  }
}

async function loadMap({ community = state.community, level = null } = {}) {
  const seq = ++mapSeq;
  const g = state.graph;
  if (!g) return;
  const chosen = level || $("level").value;
  state.loading = true;
  state.error = null;
  status("loading the map…");
  try {
    const params = { ...analysisParams(), level: community !== null ? "accounts" : chosen, community };
    const data = await api(`/v1/graphs/${encodeURIComponent(g)}/map`, params, (job) =>
      status(`computing the map (${job.status}${job.stage ? `: ${job.stage}` : ""})…`),
    );
    if (seq !== mapSeq) return;
    state.data = data;
    state.level = data.level;
    state.community = data.community === undefined ? null : data.community;
    if (level) $("level").value = level;
    draw(data);
    legend(data);
    crumbs();
    status("");
  } catch (e) {
    if (seq !== mapSeq) return;
    fail(e);
  } finally {
    if (seq === mapSeq) state.loading = false;
  }
}

function onNodeClick(id) {
  if (!state.data) return;
  if (state.data.level === "communities") {
    const n = state.data.nodes.find((x) => x.id === id);
    if (n) loadMap({ community: n.community });
    return;
  }
  openCard(id);
}

function focusNode(id) {
  if (!renderer || !graph || !graph.hasNode(id)) return false;
  const d = renderer.getNodeDisplayData(id);
  if (d) renderer.getCamera().animate({ x: d.x, y: d.y, ratio: 0.6 }, { duration: 300 });
  graph.setNodeAttribute(id, "highlighted", true);
  setTimeout(() => graph && graph.hasNode(id) && graph.setNodeAttribute(id, "highlighted", false), 3000);
  return true;
}

// ---------------------------------------------------------------- the account card

async function rankingsFor(g, params) {
  const k = JSON.stringify([g, params]);
  if (rankings.key !== k) {
    const [gk, tv] = await Promise.all([
      allItems(`/v1/graphs/${encodeURIComponent(g)}/gatekeepers`, params),
      allItems(`/v1/graphs/${encodeURIComponent(g)}/trusted-voices`, params),
    ]);
    rankings = {
      key: k,
      gatekeepers: new Map(gk.map((x, i) => [x.account, { ...x, position: i + 1, of: gk.length }])),
      trusted: new Map(tv.map((x, i) => [x.account, { ...x, position: i + 1, of: tv.length }])),
    };
  }
  return rankings;
}

function table(rows, cls) {
  const t = el("table", { class: cls || "" });
  for (const [k, v, field] of rows) {
    const td = el("td", { text: v });
    if (field) td.setAttribute("data-field", field);
    t.append(el("tr", {}, el("th", { text: k }), td));
  }
  return t;
}

async function openCard(id) {
  const seq = ++cardSeq;
  const g = state.graph;
  const params = analysisParams();
  const base = `/v1/graphs/${encodeURIComponent(g)}`;
  const acc = encodeURIComponent(id);
  const card = $("card");
  card.hidden = false;
  card.replaceChildren(el("p", { class: "muted", text: `loading ${id}…` }));
  state.card = null;
  try {
    const [account, roles, ranks, diversity, audits] = await Promise.all([
      api(`${base}/accounts/${acc}`).catch(() => null),
      api(`${base}/accounts/${acc}/roles`, params),
      rankingsFor(g, params),
      api(`${base}/accounts/${acc}/diversity`, params).catch((e) => ({ error: e.message })),
      allItems(`${base}/audits`).catch(() => []),
    ]);
    const audit = audits.find((a) => a.account === id) || null;
    const trend = audit ? await api(`${base}/audits/${encodeURIComponent(audit.id)}/runs/trend`).catch(() => null) : null;
    if (seq !== cardSeq) return;
    renderCard(id, account && account.account.handle, roles.roles, ranks.gatekeepers.get(id) || null, ranks.trusted.get(id) || null, diversity, audit, trend);
  } catch (e) {
    if (seq !== cardSeq) return;
    if (e.status === 401) return fail(e);
    card.replaceChildren(el("p", { class: "error", text: `${id}: ${e.message}` }));
    state.card = { account: id, error: e.message };
  }
}

function renderCard(id, handle, roles, gk, tv, diversity, audit, trend) {
  const card = $("card");
  const node = state.data && state.data.nodes.find((n) => n.id === id);
  const close = el("button", { type: "button", class: "close", text: "×", title: "close" });
  close.addEventListener("click", () => {
    card.hidden = true;
    state.card = null;
  });
  const head = el("header", {}, el("h2", { text: handle || (node ? node.label : id) }), close);
  const tags = el("p", { class: "tags" });
  tags.append(el("span", { text: `community ${roles.community ?? "–"}` }));
  if (node && state.castleNodes.includes(id)) tags.append(el("span", { class: "tag castle", text: "castle" }));
  if (node && state.podNodes.includes(id)) tags.append(el("span", { class: "tag pod", text: `pod ${node.pods.join(", ")}` }));
  card.replaceChildren(head, el("p", { class: "muted", text: id }), tags);

  card.append(el("h3", { text: "roles" }));
  const b = roles.brokerage || {};
  card.append(table([
    // the brokerage role first: between which groups it mediates (what the gatekeeper
    // ranking is about); the module role is its place inside its own community only
    ["brokerage role", roles.brokerage_role ?? "–", "brokerage-role"],
    ["role in own community", roles.module_role ?? "–", "module-role"],
    ["within-module z", fmt(roles.z)],
    ["participation", fmt(roles.participation)],
    ["brokerage", Object.entries(b).map(([k, v]) => `${k} ${v}`).join(", ") || "–"],
    ["constraint", fmt(roles.constraint)],
    ["effective size", fmt(roles.effective_size)],
    ["betweenness", roles.betweenness_se === null || roles.betweenness_se === undefined
      ? `${fmt(roles.betweenness)} (${roles.betweenness_method || "?"})`
      : `${fmt(roles.betweenness)} ± ${fmt(roles.betweenness_se)} (sampled, ${roles.pivots} pivots)`],
    ["PageRank", fmt(roles.pagerank)],
  ]));

  card.append(el("h3", { text: "gatekeeper" }));
  if (gk) {
    const rows = [["score", score(gk.score), "gatekeeper-score"], ["rank", `${gk.position} of ${gk.of}`, "gatekeeper-rank"]];
    for (const [k, v] of Object.entries(gk.components)) {
      rows.push([k.replaceAll("_", " "), `${fmt(v)} (rank ${fmt(gk.ranks[k], 2)})`, `gatekeeper-${k}`]);
    }
    rows.push(["bridges", (gk.communities_bridged || []).map((c) => `community ${c}`).join(", ") || "–"]);
    card.append(table(rows));
  } else {
    card.append(el("p", { class: "muted", "data-field": "gatekeeper-score", text: "not a gatekeeper (no tie to another community)" }));
  }

  card.append(el("h3", { text: "trusted voice" }));
  if (tv) {
    const rows = [["score", score(tv.score), "trusted-score"], ["rank", `${tv.position} of ${tv.of}`]];
    for (const [k, v] of Object.entries(tv.components)) rows.push([k.replaceAll("_", " "), fmt(v), `trusted-${k}`]);
    card.append(table(rows));
  } else {
    card.append(el("p", { class: "muted", "data-field": "trusted-score", text: "not ranked (too few reciprocated partners)" }));
  }

  card.append(el("h3", { text: "diversity" }));
  if (diversity && !diversity.error) {
    const l = diversity.listens_to;
    const c = diversity.converses_with;
    const t = el("table", { class: "grid" });
    t.append(el("tr", {}, el("th"), el("th", { text: "listens to" }), el("th", { text: "converses with" })));
    for (const [k, label] of [
      ["effective_communities", "effective communities"],
      ["share_own_community", "own community share"],
      ["share_in_castles", "castle share"],
      ["partners", "partners"],
    ]) {
      const td = el("td", { text: fmt(c[k]) });
      td.setAttribute("data-field", `diversity-converses-${k}`);
      t.append(el("tr", {}, el("th", { text: label }), el("td", { text: fmt(l[k]) }), td));
    }
    card.append(t);
    card.append(el("p", { class: "muted", text: `active reciprocated ties ${diversity.active_reciprocated_ties} (Dunbar ratio ${fmt(diversity.dunbar_ratio)})` }));
  } else {
    card.append(el("p", { class: "muted", text: `no diversity answer: ${diversity ? diversity.error : "–"}` }));
  }

  card.append(el("h3", { text: "audit trend" }));
  const points = trend ? trendPoints(trend) : [];
  if (!audit) {
    card.append(el("p", { class: "muted", text: "no audit for this account (POST …/audits to start one)" }));
  } else if (!points.length) {
    card.append(el("p", { class: "muted", text: `audit ${audit.id}: no finished run yet` }));
  } else {
    const box = el("div", { id: "trend-chart" });
    card.append(box);
    drawTrend(box, points);
  }
  state.card = {
    account: id,
    brokerageRole: roles.brokerage_role ?? null,
    moduleRole: roles.module_role ?? null,
    gatekeeper: gk ? score(gk.score) : null,
    trusted: tv ? score(tv.score) : null,
    audit: audit ? audit.id : null,
    trendPoints: points.length,
  };
}

// the trend answer's points, whatever its envelope: {items: [...]} or {points: [...]}
function trendPoints(trend) {
  const items = trend.items || trend.points || trend.runs || [];
  return items
    .map((p) => {
      const t = Date.parse(p.slot || p.at || p.finished_at || p.time || p.scheduled_for);
      const listens = p.listens_to || {};
      const conv = p.converses_with || {};
      return {
        t: Number.isNaN(t) ? null : t / 1000,
        listens: listens.effective_communities ?? p.effective_communities ?? null,
        converses: conv.effective_communities ?? null,
      };
    })
    .filter((p) => p.t !== null)
    .sort((a, b) => a.t - b.t);
}

function drawTrend(box, points) {
  if (chart) chart.destroy();
  const data = [points.map((p) => p.t), points.map((p) => p.listens), points.map((p) => p.converses)];
  chart = new uPlot(
    {
      width: 300,
      height: 160,
      series: [
        {},
        { label: "listens to (eff. communities)", stroke: "#3367d6", width: 2, points: { show: true, size: 6 } },
        { label: "converses with", stroke: "#e8710a", width: 2, points: { show: true, size: 6 } },
      ],
      axes: [{}, { size: 40 }],
      scales: {
        // one run: a day either side of it, not uPlot's years
        x: { time: true, range: (u, min, max) => (max - min < 3600 ? [min - 86400, max + 86400] : [min, max]) },
        y: { range: (u, min, max) => [0, Math.max(1, max + 0.5)] },
      },
    },
    data,
    box,
  );
}

// ---------------------------------------------------------------- search

let searchSeq = 0;
async function search(q) {
  const seq = ++searchSeq;
  const list = $("search-results");
  if (!q.trim() || !state.graph) {
    list.hidden = true;
    list.replaceChildren();
    return;
  }
  try {
    const page = await api(`/v1/graphs/${encodeURIComponent(state.graph)}/accounts`, { q: q.trim(), limit: 20 });
    if (seq !== searchSeq) return;
    list.replaceChildren();
    if (!page.items.length) list.append(el("li", { class: "muted", text: "no account starts with that" }));
    for (const a of page.items) {
      const b = el("button", { type: "button", "data-account": a.id, text: a.handle && a.handle !== `@${a.id}` ? `${a.handle} (${a.id})` : a.handle || a.id });
      b.addEventListener("click", () => choose(a.id));
      list.append(el("li", {}, b));
    }
    list.hidden = false;
  } catch (e) {
    if (e.status === 401) fail(e);
    else status(`search: ${e.message}`, true);
  }
}

async function choose(id) {
  $("search-results").hidden = true;
  $("search").value = id;
  if (focusNode(id)) return openCard(id);
  // not drawn: on the overview (or in another community) open the account's own
  // community first, then point at it there
  const card = openCard(id);
  try {
    const roles = await api(`/v1/graphs/${encodeURIComponent(state.graph)}/accounts/${encodeURIComponent(id)}/roles`,
      analysisParams());
    const c = roles.roles.community;
    if (c === null || c === undefined || c < 0) {
      status(`${id} has no community in the analysed layers and window`);
    } else {
      await loadMap({ community: c });
      if (!focusNode(id)) status(`${id} is in community ${c} but not among its drawn accounts`);
    }
  } catch (e) {
    if (e.status === 401) fail(e);
    else status(`${id}: ${e.message}`, true);
  }
  return card;
}

// ---------------------------------------------------------------- start-up, key, errors

function fail(e) {
  state.error = e.message;
  if (e.status === 401) {
    sessionStorage.removeItem(KEY_STORAGE);
    showLogin(`The API key was refused (401): ${e.message}. Enter a valid key.`);
    return;
  }
  status(`Could not load: ${e.message}`, true);
}

function showLogin(message = "") {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("key").focus();
}

async function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  state.error = null;
  try {
    const graphs = await allItems("/v1/graphs");
    const select = $("graph");
    select.replaceChildren(...graphs.map((g) => el("option", { value: g.id, text: g.id })));
    if (!graphs.length) {
      status("no graph yet: load one (castlegate demo, or POST /v1/graphs)", true);
      return;
    }
    const wanted = new URLSearchParams(window.location.search).get("graph");
    const ids = graphs.map((g) => g.id);
    state.graph = ids.includes(wanted) ? wanted : ids.includes("demo") ? "demo" : ids[0];
    select.value = state.graph;
    await loadMap({ community: null });
  } catch (e) {
    fail(e);
  }
}

function init() {
  const fieldset = $("layers");
  for (const l of LAYERS) {
    const box = el("input", { type: "checkbox", id: `layer-${l}`, value: l, checked: DEFAULT_LAYERS.includes(l) });
    fieldset.append(el("label", {}, box, ` ${l}`));
  }
  const query = new URLSearchParams(window.location.search);
  const level = query.get("level");
  if (["auto", "accounts", "communities"].includes(level)) $("level").value = level;

  // #key=... never reaches the server; it is moved into sessionStorage and out of the URL
  const hash = new URLSearchParams(window.location.hash.slice(1));
  if (hash.get("key")) {
    sessionStorage.setItem(KEY_STORAGE, hash.get("key"));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("key").value.trim());
    $("key").value = "";
    start();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    showLogin("");
  });
  $("graph").addEventListener("change", () => {
    state.graph = $("graph").value;
    $("card").hidden = true;
    state.card = null;
    loadMap({ community: null });
  });
  $("apply").addEventListener("click", () => loadMap({ community: state.community }));
  let timer = null;
  $("search").addEventListener("input", (e) => {
    clearTimeout(timer);
    timer = setTimeout(() => search(e.target.value), 150);
  });
  $("search").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      const first = $("search-results").querySelector("button[data-account]");
      if (first) choose(first.getAttribute("data-account"));
    }
  });

  // the read-only test hook: what is drawn, and where a node is on the page
  window.castlegate = Object.freeze({
    state: () => ({
      graph: state.graph,
      level: state.level,
      community: state.community,
      loading: state.loading,
      error: state.error,
      nodes: [...state.nodes],
      castleNodes: [...state.castleNodes],
      podNodes: [...state.podNodes],
      labelled: [...state.labelled],
      labels: graph ? Object.fromEntries(state.labelled.filter((id) => graph.hasNode(id))
        .map((id) => [id, graph.getNodeAttribute(id, "label")])) : {},
      highlighted: graph ? graph.filterNodes((_, a) => a.highlighted) : [],
      card: state.card ? { ...state.card } : null,
      violations: [...state.violations],
    }),
    viewportPosition: (id) => {
      if (!renderer || !graph || !graph.hasNode(id)) return null;
      const a = graph.getNodeAttributes(id);
      const p = renderer.graphToViewport({ x: a.x, y: a.y });
      const r = $("map").getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    },
  });

  if (key()) start();
  else showLogin("");
}

init();
