// Web map for rangers: plots coloured by forest type, alerts by priority with
// triage, satellite hotspots, today's fire danger, plan indicators. Talks only
// to this service's own API; MapLibre is served by the service (no CDN), so the
// page works offline on a commune LAN.
"use strict";

const I18N = {
  vi: {
    title: "Quản lý rừng xã Vĩnh Thông", public: "Khách (không đăng nhập)", signin: "Đăng nhập", signout: "Đăng xuất",
    alerts: "Cảnh báo", indicators: "Chỉ tiêu", layers: "Lớp bản đồ", plots: "Lô rừng (theo trạng thái)",
    dangerLayer: "Cấp cháy rừng hôm nay", hotspots: "Điểm cháy (vệ tinh)", noAlerts: "Không có cảnh báo",
    clearing: "Mất rừng", degradation: "Suy thoái", burn: "Cháy (vết cháy)", fire: "Điểm cháy",
    new: "mới", under_verification: "đang xác minh", confirmed: "đã xác nhận", false_positive: "báo sai", resolved: "đã xử lý",
    start: "Bắt đầu xác minh", confirm: "Xác nhận", falsePositive: "Báo sai", resolve: "Đã xử lý",
    note: "Ghi chú (bắt buộc)", reason: "Lý do báo sai", owner: "Chủ rừng", holder: "Người nhận khoán",
    plot: "Lô", area: "Diện tích", observed: "Phát hiện", confidence: "Độ tin cậy", priority: "Ưu tiên",
    status: "Trạng thái", reasons: "Lý do ưu tiên", signInToSee: "Đăng nhập để xem chủ rừng và người nhận khoán",
    forestArea: "Diện tích có rừng", cover: "Độ che phủ", contracted: "Diện tích giao khoán bảo vệ",
    planting: "Trồng rừng năm", ownerPct: "Tỷ lệ giao cho chủ rừng", target: "chỉ tiêu", actual: "thực tế",
    dangerToday: "Cấp dự báo cháy rừng", nesterov: "Chỉ số Nesterov", noWeather: "Chưa có số liệu thời tiết",
    badToken: "Token không hợp lệ", saved: "Đã lưu", loading: "Đang tải…",
    withOwner: "Có chủ rừng", withCert: "Có giấy chứng nhận", inDispute: "Tranh chấp", withoutOwner: "Chưa có chủ",
    close: "Đóng", legendForest: "Trạng thái rừng", legendDanger: "Cấp cháy", exportCsv: "Xuất CSV",
  },
  en: {
    title: "Vĩnh Thông commune forest management", public: "Public (not signed in)", signin: "Sign in", signout: "Sign out",
    alerts: "Alerts", indicators: "Indicators", layers: "Layers", plots: "Forest plots (by forest type)",
    dangerLayer: "Today's fire danger", hotspots: "Fire hotspots (satellite)", noAlerts: "No alerts",
    clearing: "Clearing", degradation: "Degradation", burn: "Burn scar", fire: "Fire hotspot",
    new: "new", under_verification: "under verification", confirmed: "confirmed", false_positive: "false positive", resolved: "resolved",
    start: "Start verification", confirm: "Confirm", falsePositive: "False positive", resolve: "Resolve",
    note: "Note (required)", reason: "Why it is a false positive", owner: "Forest owner", holder: "Contract holder",
    plot: "Plot", area: "Area", observed: "Observed", confidence: "Confidence", priority: "Priority",
    status: "Status", reasons: "Why this priority", signInToSee: "Sign in to see owners and contract holders",
    forestArea: "Forest area", cover: "Forest cover", contracted: "Area under protection contracts",
    planting: "Planting in", ownerPct: "Forest allocated to an owner", target: "target", actual: "actual",
    dangerToday: "Fire danger level", nesterov: "Nesterov index", noWeather: "No weather data yet",
    badToken: "Invalid token", saved: "Saved", loading: "Loading…",
    withOwner: "With owner", withCert: "With certificate", inDispute: "In dispute", withoutOwner: "Without owner",
    close: "Close", legendForest: "Forest type", legendDanger: "Danger level", exportCsv: "Export CSV",
  },
};
let lang = localStorage.getItem("forestLang") || "vi";
const t = (k) => (I18N[lang] && I18N[lang][k]) || I18N.en[k] || k;

// Forest and land state (ldlr) colours, after the usual Vietnamese forest
// status maps: natural forest in greens by stock, bamboo in olive, planted in
// pink, land without forest in yellows, farmland orange, water blue.
const FOREST_COLOURS = [
  ["TXG", "#0b5d1e"], ["TXB", "#2e8b3a"], ["TXN", "#66b34a"], ["TXK", "#a5cf6a"], ["TXP", "#cfe79a"],
  ["TXD", "#3f7f4f"], ["RL", "#7aa95c"], ["LK", "#2f6f5f"], ["RK", "#5d9d6d"],
  ["HG", "#9cb86b"], ["TN", "#c8b560"], ["NUA", "#c8b560"], ["LO", "#c8b560"], ["TRE", "#c8b560"],
  ["RT", "#e78ac3"], ["DTR", "#fff3a0"], ["DT1", "#ffe98a"], ["DT2", "#ffdd6e"],
  ["DNN", "#ffc680"], ["MN", "#8cc4f0"], ["DK", "#d9d9d9"],
];
const DANGER_COLOURS = { 1: "#2e9d3a", 2: "#2f7fd0", 3: "#f2d024", 4: "#f08a24", 5: "#d7261e" };
const ROMAN = ["", "I", "II", "III", "IV", "V"];

function forestColourExpression() {
  const cases = ["case"];
  for (const [prefix, colour] of FOREST_COLOURS) {
    cases.push(["==", ["slice", ["coalesce", ["get", "ldlr"], ""], 0, prefix.length], prefix], colour);
  }
  cases.push("#eeeeee");
  return cases;
}
function dangerColourExpression() {
  // GeoJSON plots carry fire_level as a property, tiled plots as feature state
  return ["match", ["coalesce", ["feature-state", "fire_level"], ["get", "fire_level"], 0],
    1, DANGER_COLOURS[1], 2, DANGER_COLOURS[2], 3, DANGER_COLOURS[3], 4, DANGER_COLOURS[4], 5, DANGER_COLOURS[5],
    "rgba(0,0,0,0)"];
}

const state = {
  token: localStorage.getItem("forestToken") || "",
  role: "public",
  name: null,
  alerts: [],
  selected: null,
  plots: null, // FeatureCollection as loaded
  levels: null, // plot key -> danger level
  allPlots: false, // whether every plot fits one request
};
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
function status(msg) { $("status").textContent = msg || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const res = await fetch(path, Object.assign({}, options, { headers }));
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((body && body.message) || res.statusText);
    err.status = res.status;
    throw err;
  }
  return body;
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = lang === "vi" ? "EN" : "VI";
  document.title = t("title");
  renderWho();
  renderAlerts();
  renderLegend();
  loadIndicators();
}

function renderWho() {
  const signedIn = state.role !== "public";
  $("who").textContent = signedIn ? `${state.name} (${state.role})` : t("public");
  $("token").hidden = signedIn;
  $("signin").hidden = signedIn;
  $("signout").hidden = !signedIn;
}

async function signIn(token) {
  state.token = token.trim();
  try {
    const me = await api("/api/me");
    state.role = me.role;
    state.name = me.name || null;
    if (state.token) localStorage.setItem("forestToken", state.token);
  } catch (e) {
    state.token = "";
    state.role = "public";
    localStorage.removeItem("forestToken");
    if (token) status(`${t("badToken")}: ${e.message}`);
  }
  renderWho();
  await Promise.all([loadAlerts(), reloadPlots()]);
}

// ---- map ----
const map = new maplibregl.Map({
  container: "map",
  style: {
    version: 8,
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#f3f1ea" } }],
  },
  center: [105.85, 21.95],
  zoom: 11,
  attributionControl: { compact: true, customAttribution: "Forest plots © commune register" },
});
window.forestMap = map; // for the end-to-end test and the browser console
map.addControl(new maplibregl.NavigationControl(), "top-right");
map.addControl(new maplibregl.ScaleControl({ unit: "metric" }));
const empty = { type: "FeatureCollection", features: [] };

map.on("load", async () => {
  map.addSource("alerts", { type: "geojson", data: empty });
  map.addSource("hotspots", { type: "geojson", data: empty });
  map.addLayer({ id: "alerts-fill", type: "fill", source: "alerts", paint: { "fill-color": "#d7261e", "fill-opacity": 0.35 } });
  map.addLayer({ id: "alerts-line", type: "line", source: "alerts", paint: { "line-color": ["case", ["==", ["get", "selected"], true], "#000000", "#a0000a"], "line-width": ["case", ["==", ["get", "selected"], true], 3.5, 2] } });
  map.addLayer({ id: "hotspots", type: "circle", source: "hotspots", paint: {
    "circle-radius": ["interpolate", ["linear"], ["zoom"], 9, 3, 15, 9],
    "circle-color": ["case", ["get", "in_forest"], "#ff3d00", "#ffab40"],
    "circle-stroke-color": "#5a0000", "circle-stroke-width": 1 } });
  map.on("click", "alerts-fill", (e) => selectAlert(Number(e.features[0].id ?? e.features[0].properties.id), false));
  map.on("click", "hotspots", (e) => showHotspot(e.features[0], e.lngLat));
  for (const l of ["alerts-fill", "hotspots"]) {
    map.on("mouseenter", l, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", l, () => { map.getCanvas().style.cursor = ""; });
  }
  await signIn(state.token);
  await Promise.all([loadHotspots(), loadDangerLevels()]);
  document.body.dataset.ready = "true";
});

function boundsOf(fc) {
  const b = new maplibregl.LngLatBounds();
  const walk = (c) => { if (typeof c[0] === "number") b.extend(c); else c.forEach(walk); };
  fc.features.forEach((f) => f.geometry && walk(f.geometry.coordinates));
  return b;
}

// Plots come as one GeoJSON layer when the store holds a commune (every
// plot in one request), as vector tiles when it holds a province.
function addPlotLayers(tiled) {
  if (map.getLayer("plots-fill")) return;
  const src = tiled ? { source: "plots", "source-layer": "plots" } : { source: "plots" };
  if (tiled) {
    map.addSource("plots", { type: "vector", url: "/collections/plots/tiles/WebMercatorQuad", promoteId: { plots: "key" } });
  } else {
    map.addSource("plots", { type: "geojson", data: empty });
  }
  const v = (id) => (document.getElementById(id).checked ? "visible" : "none");
  map.addLayer(Object.assign({ id: "plots-fill", type: "fill", layout: { visibility: v("layer-plots") }, paint: { "fill-color": forestColourExpression(), "fill-opacity": 0.75 } }, src), "alerts-fill");
  map.addLayer(Object.assign({ id: "plots-danger", type: "fill", layout: { visibility: v("layer-danger") }, paint: { "fill-color": dangerColourExpression(), "fill-opacity": 0.8 } }, src), "alerts-fill");
  map.addLayer(Object.assign({ id: "plots-line", type: "line", paint: { "line-color": "#4b5b44", "line-width": ["interpolate", ["linear"], ["zoom"], 11, 0.2, 15, 1] } }, src), "alerts-fill");
  map.on("click", "plots-fill", (e) => showPlot(e.features[0], e.lngLat));
  map.on("mouseenter", "plots-fill", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "plots-fill", () => { map.getCanvas().style.cursor = ""; });
}

async function reloadPlots() {
  status(t("loading"));
  // a first page tells how many plots there are (and where they are)
  let first = await api("/collections/plots/items?limit=200");
  if (first.numberMatched > first.numberReturned && first.numberMatched <= 10000) {
    first = await api("/collections/plots/items?limit=10000");
  }
  state.allPlots = first.numberMatched <= first.numberReturned;
  addPlotLayers(!state.allPlots);
  if (!state.fitted && first.features.length) {
    const sample = state.allPlots ? first : { features: first.features.slice(0, 200) };
    map.fitBounds(boundsOf(sample), { padding: 20, animate: false });
    state.fitted = true;
  }
  if (state.allPlots) setPlots(first);
  decoratePlots();
  status("");
}

function setPlots(fc) {
  state.plots = fc;
  decoratePlots();
}

function decoratePlots() {
  const src = map.getSource("plots");
  if (!src) return;
  if (!state.allPlots) {
    for (const [key, level] of Object.entries(state.levels || {})) {
      map.setFeatureState({ source: "plots", sourceLayer: "plots", id: key }, { fire_level: level });
    }
    return;
  }
  if (!state.plots) return;
  for (const f of state.plots.features) {
    f.properties.key = f.id;
    f.properties.fire_level = state.levels ? state.levels[f.id] || 0 : 0;
  }
  src.setData(state.plots);
}

async function loadDangerLevels() {
  try {
    const d = await api("/api/fire-danger/plots");
    state.levels = d.levels || {};
    state.danger = d;
  } catch (e) {
    state.levels = {};
  }
  decoratePlots();
}

async function loadHotspots() {
  const fc = await api("/collections/hotspots/items?limit=10000");
  map.getSource("hotspots").setData(fc);
}

function row(k, v) { return v === null || v === undefined || v === "" ? "" : `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`; }

async function showPlot(f, at) {
  const key = f.properties.key;
  let item;
  try {
    item = await api(`/collections/plots/items/${encodeURIComponent(key)}`);
  } catch (e) {
    status(e.message);
    return;
  }
  const p = item.properties;
  const level = state.levels ? state.levels[key] : 0;
  const personal = state.role !== "public";
  const head = `<b>${t("plot")} ${esc(key)}</b>`;
  const main = row(t("owner"), p.churung) + row(t("holder"), p.nguoink) + row(t("area"), `${p.area_ha} ha`) +
    row("ldlr", p.ldlr) + row("malr3", p.malr3) + row(t("dangerToday"), level ? ROMAN[level] : "");
  const rest = Object.keys(p).sort().filter((k) => !["churung", "nguoink", "area_ha", "ldlr", "malr3"].includes(k))
    .map((k) => row(k, p[k])).join("");
  const hint = personal ? "" : `<p><i>${t("signInToSee")}</i></p>`;
  new maplibregl.Popup({ maxWidth: "22em" }).setLngLat(at)
    .setHTML(`<div class="popup plot-popup">${head}${hint}<table>${main}${rest}</table></div>`).addTo(map);
}

function showHotspot(f, at) {
  const p = f.properties;
  new maplibregl.Popup().setLngLat(at).setHTML(`<div class="popup"><b>${t("fire")}</b><table>` +
    row("UTC", `${p.acq_date} ${p.acq_time}`) + row("sensor", `${p.instrument} ${p.satellite}`) +
    row(t("confidence"), p.confidence) + row("FRP", `${p.frp} MW`) + row("in forest", p.in_forest) + "</table></div>").addTo(map);
}

// ---- alerts ----
async function loadAlerts() {
  const fc = await api("/collections/alerts/items?limit=10000");
  state.alerts = fc.features;
  if (map.getSource("alerts")) map.getSource("alerts").setData(fc);
  renderAlerts();
  if (state.selected) selectAlert(state.selected, false);
}

function renderAlerts() {
  const list = $("alert-list");
  list.innerHTML = "";
  if (!state.alerts.length) { list.innerHTML = `<li>${t("noAlerts")}</li>`; return; }
  for (const a of state.alerts) {
    const p = a.properties;
    const li = document.createElement("li");
    li.dataset.alert = a.id;
    li.className = a.id === state.selected ? "selected" : "";
    li.innerHTML = `<span class="prio">${p.priority}</span><b>${esc(t(p.class))}</b> ${esc(p.area_ha.toFixed(2))} ha · ${esc(p.first_observed)} ` +
      `<span class="badge status-${esc(p.status)}">${esc(t(p.status))}</span><br><small>${esc(p.plots.map((x) => x.key).join(", "))}</small>`;
    li.addEventListener("click", () => selectAlert(a.id, true));
    list.appendChild(li);
  }
}

const NEXT = {
  new: [["under_verification", "start"]],
  under_verification: [["confirmed", "confirm"], ["false_positive", "falsePositive"]],
  confirmed: [["resolved", "resolve"]],
};

function selectAlert(id, fly) {
  const a = state.alerts.find((x) => x.id === id);
  if (!a) return;
  state.selected = id;
  document.querySelectorAll("#alert-list li").forEach((li) => li.classList.toggle("selected", Number(li.dataset.alert) === id));
  const fc = map.getSource("alerts") && { type: "FeatureCollection", features: state.alerts.map((x) => Object.assign({}, x, { properties: Object.assign({}, x.properties, { selected: x.id === id }) })) };
  if (fc) map.getSource("alerts").setData(fc);
  if (fly) map.fitBounds(boundsOf({ features: [a] }), { padding: 80, maxZoom: 15 });
  const p = a.properties;
  const plots = p.plots.map((x) => `<tr><td>${esc(x.key)}</td><td>${esc(x.forest_type || x.ldlr || "")}` +
    (x.churung !== undefined ? `<br>${t("owner")}: <span class="owner">${esc(x.churung ?? "—")}</span>` : "") +
    (x.nguoink !== undefined ? `<br>${t("holder")}: <span class="holder">${esc(x.nguoink ?? "—")}</span>` : "") +
    `</td><td>${esc(x.overlap_ha.toFixed(2))} ha</td></tr>`).join("");
  const canTriage = state.role === "ranger" || state.role === "admin";
  const actions = canTriage && NEXT[p.status] ? `<div class="triage"><textarea id="triage-note" placeholder="${esc(t("note"))}"></textarea>` +
    (p.status === "under_verification" ? `<input id="triage-reason" placeholder="${esc(t("reason"))}">` : "") +
    NEXT[p.status].map(([to, label]) => `<button type="button" data-to="${to}">${esc(t(label))}</button>`).join("") + "</div>" : "";
  const hint = p.plots.length && p.plots[0].churung === undefined ? `<p><i>${t("signInToSee")}</i></p>` : "";
  const d = $("alert-detail");
  d.hidden = false;
  d.innerHTML = `<button type="button" id="detail-close" style="float:right">${t("close")}</button>` +
    `<h3>#${a.id} ${esc(t(p.class))}</h3><table>` + row(t("status"), t(p.status) + (p.status_reason ? ` (${p.status_reason})` : "")) +
    row(t("priority"), p.priority) + row(t("confidence"), p.confidence) + row(t("area"), `${p.area_ha.toFixed(2)} ha`) +
    row(t("observed"), p.first_observed) + row(t("reasons"), p.reasons.join("; ")) + `</table>${hint}<table class="alert-plots">${plots}</table>${actions}`;
  $("detail-close").addEventListener("click", () => { d.hidden = true; state.selected = null; renderAlerts(); });
  d.querySelectorAll(".triage button").forEach((b) => b.addEventListener("click", () => triage(a.id, b.dataset.to)));
}

async function triage(id, to) {
  const note = $("triage-note").value.trim();
  const reasonEl = $("triage-reason");
  const body = { status: to, note };
  if (to === "false_positive") body.reason = reasonEl ? reasonEl.value.trim() : "";
  if (!note) { status(t("note")); $("triage-note").focus(); return; }
  try {
    await api(`/api/alerts/${id}/transition`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    status(t("saved"));
    await loadAlerts();
  } catch (e) {
    status(e.message);
  }
}

// ---- indicators and fire danger ----
function measure(label, m, unit) {
  if (!m) return "";
  const cls = m.met === true ? "met" : m.met === false ? "unmet" : "";
  const target = m.target !== null && m.target !== undefined ? ` / ${t("target")} ${m.target}` : "";
  return `<tr><td>${esc(label)}</td><td class="${cls}">${esc(m.actual)} ${esc(unit)}${esc(target)}</td></tr>`;
}

async function loadIndicators() {
  try {
    const s = await api("/api/stats");
    const a = s.allocation;
    const share = (x) => x ? `${x.plots} · ${x.area_ha} ha` : "";
    $("indicators").innerHTML = `<h3>${t("indicators")}</h3><table id="indicator-table">` +
      measure(t("cover"), s.forest_cover_pct, "%") + measure(t("forestArea"), s.forest_area_ha, "ha") +
      measure(t("contracted"), s.contracted_area_ha, "ha") + measure(`${t("planting")} ${s.reference_year}`, s.planting_ha, "ha") +
      measure(t("ownerPct"), a.owner_pct, "%") + row(t("withOwner"), share(a.with_owner)) + row(t("withCert"), share(a.with_certificate)) +
      row(t("inDispute"), share(a.in_dispute)) + row(t("withoutOwner"), share(a.without_owner)) + "</table>";
  } catch (e) {
    $("indicators").textContent = e.message;
  }
  try {
    const d = await api("/api/fire-danger");
    const c = d.current;
    if (!c) { $("danger").innerHTML = `<p>${t("noWeather")}</p>`; return; }
    const counts = (d.forest_plots_by_level || []).filter((l) => l.forest_plots > 0)
      .map((l) => row(`${t("legendDanger")} ${l.level_roman}`, `${l.forest_plots} · ${l.forest_ha} ha`)).join("");
    $("danger").innerHTML = `<h3>${t("dangerToday")}</h3><p><span id="danger-level" class="danger-level" style="background:${DANGER_COLOURS[c.level]}">${ROMAN[c.level]}</span> ` +
      `${esc(c.date)} · ${t("nesterov")} ${esc(c.index)}</p><table>${counts}</table>`;
  } catch (e) {
    $("danger").textContent = e.message;
  }
}

function renderLegend() {
  const danger = $("layer-danger").checked;
  const items = danger ? [1, 2, 3, 4, 5].map((l) => [ROMAN[l], DANGER_COLOURS[l]])
    : FOREST_COLOURS.filter(([k]) => ["TXG", "TXB", "TXN", "TXK", "TXP", "TN", "RT", "DTR", "DT1", "DNN", "MN", "DK"].includes(k));
  $("legend").innerHTML = `<h4>${danger ? t("legendDanger") : t("legendForest")}</h4>` +
    items.map(([k, c]) => `<div><i style="background:${c}"></i>${esc(k)}</div>`).join("");
}

// ---- controls ----
document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll(".tab").forEach((x) => x.classList.toggle("active", x === b));
  document.querySelectorAll(".tabpane").forEach((p) => { p.hidden = p.id !== `tab-${b.dataset.tab}`; });
}));
$("lang").addEventListener("click", () => { lang = lang === "vi" ? "en" : "vi"; localStorage.setItem("forestLang", lang); applyLanguage(); });
$("signin").addEventListener("click", () => signIn($("token").value));
// the alert list as CSV (with owners and contract holders when signed in)
$("export-csv").addEventListener("click", async () => {
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  const res = await fetch("/collections/alerts/items?f=csv&limit=10000", { headers });
  if (!res.ok) { status(res.statusText); return; }
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await res.blob());
  a.download = "alerts.csv";
  a.click();
  URL.revokeObjectURL(a.href);
});
$("token").addEventListener("keydown", (e) => { if (e.key === "Enter") signIn($("token").value); });
$("signout").addEventListener("click", () => { localStorage.removeItem("forestToken"); $("token").value = ""; signIn(""); });
const toggle = (id, layers) => $(id).addEventListener("change", (e) => {
  for (const l of layers) map.setLayoutProperty(l, "visibility", e.target.checked ? "visible" : "none");
  renderLegend();
});
toggle("layer-plots", ["plots-fill"]);
toggle("layer-danger", ["plots-danger"]);
toggle("layer-alerts", ["alerts-fill", "alerts-line"]);
toggle("layer-hotspots", ["hotspots"]);
applyLanguage();
