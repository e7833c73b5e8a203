// The inspector's UI: plain JavaScript against the JSON API (/api/bins) and its event stream.
// Everything captured is shown with textContent, never parsed as HTML.
"use strict";

const $ = (selector) => document.querySelector(selector);

const state = {
  bin: null, // the selected bin, as GET /api/bins/{token} shows it
  captures: [], // newest first, as loaded or streamed
  selected: null, // id of the capture in the detail pane
  full: null, // the selected capture with its body (listings and the stream carry none)
  view: null, // body view chosen by the user, or null for the best guess
  nextBefore: null,
  replayEdited: false, // the replay URL follows the selected capture until the user edits it
  source: null, // the EventSource
  connectedOnce: false,
};

// ---------------------------------------------------------------------------------------------
// The API

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    // The admin token is needed: the page at /ui asks for it.
    window.location.href = "/ui";
    throw new Error("the admin token is needed");
  }
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new Error((json && json.error) || `${response.status} ${response.statusText}`);
  }
  return json;
}

const binPath = (token) => `/api/bins/${encodeURIComponent(token)}`;

// ---------------------------------------------------------------------------------------------
// Bytes and text

function decodeBase64(text) {
  const raw = atob(text || "");
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function utf8(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (_) {
    return null;
  }
}

function header(capture, name) {
  const found = capture.headers.find((h) => h.name === name);
  return found ? found.value : "";
}

function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function formatTime(iso) {
  const at = new Date(iso);
  return at.toLocaleTimeString(undefined, { hour12: false }) +
    "." + String(at.getMilliseconds()).padStart(3, "0");
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// Re-indents JSON text without re-serialising it: numbers, escapes and key order stay exactly
// as sent (JSON.stringify would round big numbers). Returns spans for highlighting.
function prettyJson(text) {
  const out = document.createDocumentFragment();
  const highlight = text.length <= 512 * 1024;
  let indent = 0;
  let buffer = "";
  const flush = () => {
    if (buffer) out.append(buffer);
    buffer = "";
  };
  const token = (kind, value) => {
    if (!highlight) {
      buffer += value;
      return;
    }
    flush();
    out.append(el("span", { class: `j-${kind}`, text: value }));
  };
  const newline = () => {
    buffer += "\n" + "  ".repeat(indent);
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const literal = text.slice(i, j + 1);
      let k = j + 1;
      while (k < text.length && /\s/.test(text[k])) k++;
      token(text[k] === ":" ? "key" : "string", literal);
      i = j + 1;
    } else if (c === "{" || c === "[") {
      let k = i + 1;
      while (k < text.length && /\s/.test(text[k])) k++;
      if (text[k] === (c === "{" ? "}" : "]")) {
        buffer += c + text[k];
        i = k + 1;
        continue;
      }
      buffer += c;
      indent++;
      newline();
      i++;
    } else if (c === "}" || c === "]") {
      indent = Math.max(0, indent - 1);
      newline();
      buffer += c;
      i++;
    } else if (c === ",") {
      buffer += ",";
      newline();
      i++;
    } else if (c === ":") {
      buffer += ": ";
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      let j = i;
      while (j < text.length && !/[\s,\]}:]/.test(text[j])) j++;
      const literal = text.slice(i, j);
      token(/^[-0-9]/.test(literal) ? "number" : "literal", literal);
      i = j;
    }
  }
  flush();
  return out;
}

function hexDump(bytes) {
  const limit = Math.min(bytes.length, 64 * 1024);
  const lines = [];
  for (let offset = 0; offset < limit; offset += 16) {
    const row = bytes.subarray(offset, Math.min(offset + 16, limit));
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${offset.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  if (bytes.length > limit) lines.push(`... ${bytes.length - limit} more bytes (download the raw body)`);
  return lines.join("\n");
}

function indexOf(haystack, needle, from) {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// Form fields: url-encoded pairs, or multipart parts with their headers.
function formFields(capture, bytes) {
  const type = header(capture, "content-type").toLowerCase();
  if (type.startsWith("application/x-www-form-urlencoded")) {
    const text = utf8(bytes);
    if (text === null) return null;
    return Array.from(new URLSearchParams(text), ([name, value]) => ({ name, value, meta: "" }));
  }
  const boundary = /boundary="?([^";]+)"?/i.exec(header(capture, "content-type"));
  if (!type.startsWith("multipart/") || !boundary) return null;
  const delimiter = new TextEncoder().encode("--" + boundary[1]);
  const fields = [];
  let at = indexOf(bytes, delimiter, 0);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (bytes[start] === 0x2d && bytes[start + 1] === 0x2d) break; // the closing "--"
    const next = indexOf(bytes, delimiter, start);
    if (next < 0) break;
    const part = bytes.subarray(start + 2, next - 2); // CRLF after the delimiter and before the next
    const split = indexOf(part, new TextEncoder().encode("\r\n\r\n"), 0);
    const head = split >= 0 ? utf8(part.subarray(0, split)) || "" : "";
    const body = split >= 0 ? part.subarray(split + 4) : part;
    const disposition = /content-disposition:[^\r\n]*/i.exec(head);
    const name = disposition && /name="([^"]*)"/i.exec(disposition[0]);
    const file = disposition && /filename="([^"]*)"/i.exec(disposition[0]);
    const partType = /content-type:\s*([^\r\n]*)/i.exec(head);
    const text = utf8(body);
    fields.push({
      name: name ? name[1] : "(unnamed part)",
      value: text !== null && body.length <= 64 * 1024 ? text : `${formatSize(body.length)} of binary data`,
      meta: [file ? `file ${file[1]}` : "", partType ? partType[1] : ""].filter(Boolean).join(", "),
    });
    at = next;
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------
// Bins

async function loadBins(select) {
  const { bins } = await api("GET", "/api/bins");
  const picker = $("#bin-select");
  picker.replaceChildren(...bins.map((b) => el("option", { value: b.token, text: b.token })));
  const wanted = select || decodeURIComponent(location.hash.replace(/^#\/?/, "")) || localStorage.getItem("inspector.bin");
  const chosen = bins.find((b) => b.token === wanted) || bins[0] || null;
  await selectBin(chosen);
}

async function selectBin(bin) {
  if (state.source) state.source.close();
  state.source = null;
  state.bin = bin;
  state.captures = [];
  state.selected = null;
  $("#welcome").hidden = !!bin;
  $("#list-pane").hidden = !bin;
  $("#bin-bar").hidden = !bin;
  $("#detail").hidden = true;
  $("#settings").hidden = true;
  $("#settings-toggle").setAttribute("aria-expanded", "false");
  setLive(false);
  if (!bin) {
    history.replaceState(null, "", "/ui");
    return;
  }
  $("#bin-select").value = bin.token;
  localStorage.setItem("inspector.bin", bin.token);
  history.replaceState(null, "", `/ui#/${encodeURIComponent(bin.token)}`);
  $("#bin-url").textContent = bin.url;
  $("#har-all").href = `${binPath(bin.token)}/har`;
  $("#try-curl").textContent =
    `curl -X POST '${bin.url}' -H 'content-type: application/json' -d '{"hello": "world"}'`;
  fillSettings(bin.settings);
  connect();
  await loadCaptures();
}

async function newBin() {
  const alias = $("#alias").value.trim();
  try {
    const bin = await api("POST", "/api/bins", alias ? { alias } : {});
    $("#alias").value = "";
    await loadBins(bin.token);
  } catch (e) {
    alert(`Cannot create the bin: ${e.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Settings

function fillSettings(settings) {
  const response = settings.response;
  $("#set-status").value = response.status;
  $("#set-content-type").value = response.content_type || "";
  $("#set-delay").value = response.delay_ms;
  $("#set-cors").checked = response.cors;
  $("#set-body").value = response.body || "";
  $("#set-headers").value = Object.entries(response.headers).map(([n, v]) => `${n}: ${v}`).join("\n");
  const verify = settings.verify;
  $("#set-verify-kind").value = verify.kind;
  $("#set-verify-kind").dataset.saved = verify.kind;
  $("#set-secrets").value = "";
  $("#set-header").value = verify.header || "";
  $("#set-prefix").value = verify.prefix || "";
  $("#set-encoding").value = verify.encoding || "hex";
  $("#set-user").value = verify.user || "";
  $("#set-envelope").value = settings.envelope;
  $("#set-ordering").value = "";
  $("#set-dedupe").checked = settings.dedupe;
  showVerifyFields();
}

function showVerifyFields() {
  const kind = $("#set-verify-kind").value;
  for (const node of document.querySelectorAll(".hmac-only")) node.hidden = kind !== "hmac-sha256" && kind !== "token";
  for (const node of document.querySelectorAll(".basic-only")) node.hidden = kind !== "basic";
}

function settingsChange() {
  const headers = {};
  for (const line of $("#set-headers").value.split("\n")) {
    const at = line.indexOf(":");
    if (at > 0) headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  const change = {
    response: {
      status: Number($("#set-status").value) || 200,
      body: $("#set-body").value === "" ? null : $("#set-body").value,
      content_type: $("#set-content-type").value.trim() || null,
      headers,
      cors: $("#set-cors").checked,
      delay_ms: Number($("#set-delay").value) || 0,
    },
    envelope: $("#set-envelope").value,
    dedupe: $("#set-dedupe").checked,
  };
  if ($("#set-ordering").value) change.ordering = $("#set-ordering").value;
  const kind = $("#set-verify-kind").value;
  const secrets = $("#set-secrets").value.split(",").map((s) => s.trim()).filter(Boolean);
  const kindChanged = kind !== $("#set-verify-kind").dataset.saved;
  if (kindChanged || secrets.length) {
    const verify = { kind };
    if (kind === "basic") {
      verify.user = $("#set-user").value;
      verify.password = secrets[0] || "";
    } else if (kind !== "none") {
      if (!secrets.length) throw new Error(`scheme ${kind} needs its secret`);
      verify.secrets = secrets;
    }
    if (kind === "hmac-sha256" || kind === "token") {
      if ($("#set-header").value.trim()) verify.header = $("#set-header").value.trim();
    }
    if (kind === "hmac-sha256") {
      if ($("#set-prefix").value) verify.prefix = $("#set-prefix").value;
      verify.encoding = $("#set-encoding").value;
    }
    change.verify = verify;
  }
  return change;
}

async function saveSettings(event) {
  event.preventDefault();
  const status = $("#settings-status");
  try {
    const bin = await api("PATCH", binPath(state.bin.token), settingsChange());
    state.bin = bin;
    fillSettings(bin.settings);
    status.textContent = "Saved. New requests are judged with these settings.";
    status.className = "ok";
  } catch (e) {
    status.textContent = e.message;
    status.className = "problem";
  }
}

// ---------------------------------------------------------------------------------------------
// The list

function filters() {
  return {
    method: $("#f-method").value,
    outcome: $("#f-outcome").value,
    event_type: $("#f-event").value.trim(),
    entity: $("#f-entity").value.trim(),
    q: $("#f-q").value.trim(),
  };
}

// Whether a streamed capture passes the filters. The stream carries no bodies, so a text
// search (which looks into bodies too) is left to the server: null means "ask it".
function matches(capture, f) {
  const same = (wanted, actual) => !wanted || (actual || "").toLowerCase() === wanted.toLowerCase();
  const event = capture.verdicts.event || {};
  if (!same(f.method, capture.method) || !same(f.outcome, capture.verdicts.outcome)) return false;
  if (!same(f.event_type, event.event_type) || !same(f.entity, event.entity_id)) return false;
  return f.q ? null : true;
}

async function loadCaptures(older) {
  if (!state.bin) return;
  const params = new URLSearchParams({ limit: "100" });
  for (const [key, value] of Object.entries(filters())) if (value) params.set(key, value);
  if (older && state.nextBefore) params.set("before", state.nextBefore);
  const token = state.bin.token;
  const page = await api("GET", `${binPath(token)}/requests?${params}`);
  if (!state.bin || state.bin.token !== token) return;
  const known = new Set(state.captures.map((c) => c.id));
  const fresh = page.requests.filter((c) => !known.has(c.id));
  state.captures = older ? state.captures.concat(fresh) : mergeNewest(page.requests);
  state.nextBefore = page.next_before;
  $("#older").hidden = page.next_before === null;
  renderList();
  if (state.selected === null && state.captures.length) select(state.captures[0].id);
}

// A fresh first page, keeping captures the stream delivered meanwhile.
function mergeNewest(page) {
  const ids = new Set(page.map((c) => c.id));
  const streamed = state.captures.filter((c) => !ids.has(c.id) && c.id > (page[0] ? page[0].id : 0));
  return streamed.concat(page);
}

function groupKey(capture) {
  return capture.method === "HEAD" ? `probe:${capture.id}` : capture.verdicts.delivery;
}

function renderList() {
  const list = $("#captures");
  const grouped = $("#f-group").checked;
  const groups = new Map();
  for (const capture of state.captures) {
    const key = grouped ? groupKey(capture) : String(capture.id);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(capture);
  }
  const rows = [];
  for (const attempts of groups.values()) {
    const capture = attempts[0];
    const outcome = capture.verdicts.outcome;
    const row = el("li", { class: "capture", "data-id": String(capture.id), "data-outcome": outcome },
      el("span", { class: `method m-${capture.method.toLowerCase()}`, text: capture.method }),
      el("span", { class: "path", text: capture.path.replace(/^\/in\/[^/]+/, "") + (capture.query ? `?${capture.query}` : "") || "/" }),
      el("span", { class: `badge o-${outcome}`, text: outcome.replace(/_/g, " ") }),
      attempts.length > 1 ? el("span", { class: "attempt-count", title: "attempts of this delivery", text: `×${attempts.length}` }) : null,
      el("span", { class: "when", text: formatTime(capture.received_at) }),
      el("span", { class: "size", text: `${formatSize(capture.size)} → ${capture.answer_status}` }),
      eventLine(capture));
    if (attempts.some((a) => a.id === state.selected)) row.classList.add("selected");
    row.addEventListener("click", () => select(capture.id));
    rows.push(row);
  }
  list.replaceChildren(...rows);
  $("#empty").hidden = state.captures.length > 0;
}

function eventLine(capture) {
  const event = capture.verdicts.event;
  if (!event || event.event_type === "webhook") return null;
  const parts = [event.event_type];
  if (event.entity_id) parts.push(`${event.entity_type ? event.entity_type + " " : ""}${event.entity_id}`);
  return el("span", { class: "event", text: parts.join(" · ") });
}

// ---------------------------------------------------------------------------------------------
// Live updates

function setLive(on) {
  const badge = $("#live-status");
  badge.textContent = on ? "live" : "offline";
  badge.className = on ? "live on" : "live off";
}

function connect() {
  const token = state.bin.token;
  // Metadata only: a capture's body is fetched when it is opened.
  const source = new EventSource(`${binPath(token)}/stream?body=false`);
  state.source = source;
  state.connectedOnce = false;
  source.addEventListener("ready", () => {
    setLive(true);
    // After a reconnection, anything missed comes by Last-Event-ID; reload to be sure of
    // removals too.
    if (state.connectedOnce) loadCaptures();
    state.connectedOnce = true;
  });
  source.addEventListener("capture", (event) => {
    const capture = JSON.parse(event.data);
    if (state.captures.some((c) => c.id === capture.id)) return;
    const passes = matches(capture, filters());
    if (passes === false) return;
    if (passes === null) {
      loadCaptures();
      return;
    }
    state.captures.unshift(capture);
    renderList();
    if (state.selected === null) select(capture.id);
    else if (sameDelivery(capture)) renderAttempts(current());
  });
  source.addEventListener("removed", (event) => {
    const { ids } = JSON.parse(event.data);
    const gone = ids === null ? null : new Set(ids);
    state.captures = gone === null ? [] : state.captures.filter((c) => !gone.has(c.id));
    if (gone === null || gone.has(state.selected)) {
      state.selected = null;
      $("#detail").hidden = true;
    }
    renderList();
  });
  source.onerror = () => setLive(false);
}

// ---------------------------------------------------------------------------------------------
// The detail pane

function current() {
  return state.captures.find((c) => c.id === state.selected) || null;
}

function sameDelivery(capture) {
  const shown = current();
  return shown && groupKey(shown) === groupKey(capture);
}

function captureUrl(capture) {
  const base = new URL(state.bin.url);
  return `${base.origin}${capture.path}${capture.query ? "?" + capture.query : ""}`;
}

function select(id) {
  state.selected = id;
  state.view = null;
  state.full = null;
  for (const row of document.querySelectorAll("#captures li")) row.classList.remove("selected");
  const capture = current();
  if (!capture) return;
  const row = document.querySelector(`#captures li[data-id="${id}"]`);
  if (row) row.classList.add("selected");
  renderDetail(capture);
  loadBody(capture);
}

// Fetches the opened capture with its body, then shows the body.
async function loadBody(capture) {
  const token = state.bin.token;
  const target = $("#body-view");
  target.dataset.view = "loading";
  target.replaceChildren(el("p", { class: "muted", text: "Loading the body…" }));
  try {
    const full = await api("GET", `${binPath(token)}/requests/${capture.id}`);
    if (state.selected !== capture.id || !state.bin || state.bin.token !== token) return;
    state.full = full;
    renderBody(full);
  } catch (e) {
    if (state.selected !== capture.id) return;
    target.replaceChildren(el("p", { class: "problem", text: `Cannot load the body: ${e.message}` }));
  }
}

// The opened capture with its body, once loaded.
function opened() {
  return state.full && state.full.id === state.selected ? state.full : null;
}

function fact(list, name, value) {
  if (value === null || value === undefined || value === "") return;
  list.append(el("dt", { text: name }), el("dd", { text: String(value) }));
}

function renderDetail(capture) {
  $("#detail").hidden = false;
  $("#d-method").textContent = capture.method;
  $("#d-method").className = `method m-${capture.method.toLowerCase()}`;
  $("#d-url").textContent = captureUrl(capture);
  const facts = $("#d-facts");
  facts.replaceChildren();
  fact(facts, "Received", new Date(capture.received_at).toLocaleString());
  fact(facts, "From", capture.remote_addr);
  fact(facts, "Size", formatSize(capture.size) + (capture.truncated ? " (over the limit: not kept)" : ""));
  fact(facts, "Answered", capture.answer_status);
  fact(facts, "Request id", capture.id);

  const v = capture.verdicts;
  $("#verdict").dataset.outcome = v.outcome;
  $("#v-outcome").textContent = v.outcome.replace(/_/g, " ");
  $("#v-outcome").className = `badge o-${v.outcome}`;
  $("#v-message").textContent = v.outcome === "handled"
    ? "an endpoint with these settings would accept and handle it (200)"
    : v.outcome === "probe" ? `${v.message} (an endpoint answers 200)`
      : `an endpoint would answer ${v.status}: ${v.message}`;
  const vf = $("#v-facts");
  vf.replaceChildren();
  const sig = v.signature;
  fact(vf, "Signature", sig.passed === null ? `${sig.scheme}: not checked` :
    sig.scheme === "none" ? "none configured" :
      sig.passed ? `${sig.scheme}: valid` : `${sig.scheme}: ${sig.reason}`);
  if (sig.hint) fact(vf, "Likely cause", sig.hint);
  if (v.event) {
    fact(vf, "Event type", v.event.event_type);
    fact(vf, "Entity", [v.event.entity_type, v.event.entity_id].filter(Boolean).join(" "));
    fact(vf, "Created at", v.event.created_at);
    fact(vf, "Delivery id", v.event.delivery_id);
    if (v.event.test) fact(vf, "Test", "a sender's test delivery");
  }
  (v.events || []).forEach((entry, index) => {
    const e = entry.event;
    const about = [e.event_type, e.entity_type, e.entity_id].filter(Boolean).join(" ");
    const id = e.delivery_id ? ` (${e.delivery_id})` : "";
    fact(vf, `Event ${index + 1}`, `${entry.outcome}: ${about}${id}`);
  });
  fact(vf, "Ordering", v.ordering);
  $("#v-facts").dataset.signature = sig.passed === null ? "unchecked" : String(sig.passed);

  renderAttempts(capture);
  $("#body-size").textContent = formatSize(capture.size);
  const token = state.bin.token;
  $("#download-raw").href = `${binPath(token)}/requests/${capture.id}/raw`;
  $("#har-one").href = `${binPath(token)}/har?id=${capture.id}`;
  $("#curl-text").hidden = true;
  $("#replay-result").hidden = true;
  if (!state.replayEdited) $("#replay-url").value = captureUrl(capture);
  renderPairs($("#headers tbody"), capture.headers.map((h) => [h.name, h.value]));
  const query = Array.from(new URLSearchParams(capture.query));
  $("#query-block").hidden = query.length === 0;
  renderPairs($("#query tbody"), query);
}

function renderPairs(body, pairs) {
  body.replaceChildren(...pairs.map(([name, value]) =>
    el("tr", {}, el("th", { text: name }), el("td", { text: value }))));
}

function renderAttempts(capture) {
  const attempts = state.captures.filter((c) => groupKey(c) === groupKey(capture)).reverse();
  $("#attempts").hidden = attempts.length < 2;
  $("#attempt-list").replaceChildren(...attempts.map((a) => {
    const item = el("li", { class: a.id === capture.id ? "current" : "" },
      el("span", { text: `${formatTime(a.received_at)} answered ${a.answer_status} · ${a.verdicts.outcome.replace(/_/g, " ")}` }));
    item.addEventListener("click", () => select(a.id));
    return item;
  }));
}

function bestView(capture, bytes, text) {
  const type = header(capture, "content-type").toLowerCase();
  if (text !== null && isJson(text)) return "pretty";
  if (formFields(capture, bytes)) return type.startsWith("multipart/") || type.includes("urlencoded") ? "form" : "text";
  return text === null ? "hex" : "text";
}

function isJson(text) {
  try {
    JSON.parse(text);
    return /^\s*[{[]/.test(text);
  } catch (_) {
    return false;
  }
}

function renderBody(capture) {
  const bytes = decodeBase64(capture.body_base64);
  const text = utf8(bytes);
  const view = state.view || bestView(capture, bytes, text);
  $("#body-size").textContent = `${formatSize(bytes.length)}${text === null && bytes.length ? ", not UTF-8" : ""}`;
  for (const tab of document.querySelectorAll("#body-tabs button")) {
    tab.classList.toggle("active", tab.dataset.view === view);
  }
  const target = $("#body-view");
  target.dataset.view = view;
  if (!bytes.length) {
    target.replaceChildren(el("p", { class: "muted", text: capture.truncated ? "The body was over the limit and not kept." : "No body." }));
    return;
  }
  if (view === "pretty" && text !== null && isJson(text)) {
    target.replaceChildren(el("pre", { class: "json" }, prettyJson(text)));
  } else if (view === "form") {
    const fields = formFields(capture, bytes);
    if (!fields) {
      target.replaceChildren(el("p", { class: "muted", text: "Not a form (url-encoded or multipart)." }));
      return;
    }
    target.replaceChildren(el("table", { class: "headers" }, el("tbody", {}, ...fields.map((f) =>
      el("tr", {}, el("th", { text: f.name }), el("td", {}, el("pre", { text: f.value }), f.meta ? el("small", { text: f.meta }) : null))))));
  } else if (view === "hex" || text === null) {
    target.replaceChildren(el("pre", { class: "hex", text: hexDump(bytes) }));
  } else {
    target.replaceChildren(el("pre", { text }));
  }
}

// ---------------------------------------------------------------------------------------------
// Actions

const SKIPPED = new Set(["host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "trailer"]);

// One shell word holding exactly `text`: single quotes, inside which bash expands nothing.
function shellQuote(text) {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

// The methods a copied command may carry. HTTP allows any token (`, $, ', |, & included);
// such a method is refused rather than trusted to quoting.
const PLAIN_METHOD = /^[A-Z]+$/;

// A curl command that sends the capture again: { command } or { refused: why }. Every
// captured field is one quoted word; a text body goes with --data-raw (curl reads no file for
// a leading @), any other body as exact bytes through printf and stdin.
function curlCommand(capture) {
  if (!PLAIN_METHOD.test(capture.method)) {
    return {
      // The method itself is not repeated here: this text may be pasted too.
      refused: "Not copied: this request's method is not made of capital letters only, and a " +
        "shell could run part of it as a command. Download the raw body or the HAR instead.",
    };
  }
  const bytes = decodeBase64(capture.body_base64);
  const text = utf8(bytes);
  const lines = [`curl -X ${shellQuote(capture.method)} ${shellQuote(captureUrl(capture))}`];
  for (const h of capture.headers) {
    if (!SKIPPED.has(h.name)) lines.push(`-H ${shellQuote(`${h.name}: ${h.value}`)}`);
  }
  if (!bytes.length) return { command: lines.join(" \\\n  ") };
  if (text !== null && !text.includes("\0")) {
    lines.push(`--data-raw ${shellQuote(text)}`);
    return { command: lines.join(" \\\n  ") };
  }
  // Not text: printf writes the exact bytes, curl reads them from stdin.
  const escaped = Array.from(bytes, (b) => "\\x" + b.toString(16).padStart(2, "0")).join("");
  lines.push("--data-binary @-");
  return { command: `printf '${escaped}' | ` + lines.join(" \\\n  ") };
}

async function copyCurl() {
  const capture = opened();
  if (!capture) return;
  const { command, refused } = curlCommand(capture);
  const shown = $("#curl-text");
  shown.hidden = false;
  if (refused) {
    shown.textContent = refused;
    shown.dataset.refused = "true";
    return;
  }
  shown.textContent = command;
  delete shown.dataset.refused;
  try {
    await navigator.clipboard.writeText(command);
    $("#copy-curl").textContent = "Copied";
  } catch (_) {
    $("#copy-curl").textContent = "Copy as curl (select below)";
  }
  setTimeout(() => ($("#copy-curl").textContent = "Copy as curl"), 2000);
}

async function replay() {
  const capture = current();
  if (!capture) return;
  const result = $("#replay-result");
  result.hidden = false;
  result.className = "replay-result";
  result.replaceChildren(el("p", { class: "muted", text: "Sending…" }));
  try {
    const answer = await api("POST", `${binPath(state.bin.token)}/requests/${capture.id}/replay`, { url: $("#replay-url").value });
    const bytes = decodeBase64(answer.body_base64);
    const text = utf8(bytes);
    result.dataset.status = String(answer.status);
    result.replaceChildren(
      el("p", {}, el("strong", { class: "replay-status", text: `${answer.status}` }), ` in ${answer.duration_ms} ms`),
      el("table", { class: "headers" }, el("tbody", {}, ...answer.headers.map((h) =>
        el("tr", {}, el("th", { text: h.name }), el("td", { text: h.value }))))),
      el("pre", { class: "replay-body", text: text === null ? hexDump(bytes) : text }));
  } catch (e) {
    result.className = "replay-result problem";
    result.replaceChildren(el("p", { text: e.message }));
  }
}

async function deleteCapture() {
  const capture = current();
  if (!capture) return;
  await api("DELETE", `${binPath(state.bin.token)}/requests/${capture.id}`);
}

async function clearBin() {
  if (!state.bin || !confirm(`Remove every request in ${state.bin.token}?`)) return;
  await api("DELETE", `${binPath(state.bin.token)}/requests`);
}

async function deleteBin() {
  if (!state.bin || !confirm(`Delete the bin ${state.bin.token} and everything in it?`)) return;
  await api("DELETE", binPath(state.bin.token));
  await loadBins();
}

function debounce(action, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(action, ms);
  };
}

function start() {
  $("#new-bin").addEventListener("click", newBin);
  $("#alias").addEventListener("keydown", (e) => { if (e.key === "Enter") newBin(); });
  $("#bin-select").addEventListener("change", async () => {
    const bin = await api("GET", binPath($("#bin-select").value));
    await selectBin(bin);
  });
  $("#copy-url").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(state.bin.url));
  $("#settings-toggle").addEventListener("click", () => {
    const open = $("#settings").hidden;
    $("#settings").hidden = !open;
    $("#settings-toggle").setAttribute("aria-expanded", String(open));
    $("#settings-status").textContent = "";
  });
  $("#set-verify-kind").addEventListener("change", showVerifyFields);
  $("#settings-form").addEventListener("submit", saveSettings);
  $("#clear-bin").addEventListener("click", clearBin);
  $("#delete-bin").addEventListener("click", deleteBin);
  $("#older").addEventListener("click", () => loadCaptures(true));
  const reload = debounce(() => {
    state.captures = [];
    state.selected = null;
    $("#detail").hidden = true;
    loadCaptures();
  }, 250);
  for (const id of ["#f-method", "#f-outcome"]) $(id).addEventListener("change", reload);
  for (const id of ["#f-event", "#f-entity", "#f-q"]) $(id).addEventListener("input", reload);
  $("#filters").addEventListener("submit", (e) => e.preventDefault());
  $("#f-group").addEventListener("change", renderList);
  $("#copy-curl").addEventListener("click", copyCurl);
  $("#replay-go").addEventListener("click", replay);
  $("#replay-url").addEventListener("input", () => (state.replayEdited = true));
  $("#delete-capture").addEventListener("click", deleteCapture);
  for (const tab of document.querySelectorAll("#body-tabs button")) {
    tab.addEventListener("click", () => {
      state.view = tab.dataset.view;
      const capture = opened();
      if (capture) renderBody(capture);
    });
  }
  loadKinds().then(loadBins).catch((e) => {
    document.body.prepend(el("p", { class: "problem banner", text: `Cannot reach the inspector API: ${e.message}` }));
  });
}

// Every verify kind and envelope the receiver knows (the catalogue's senders by name), added
// to the settings' selects after the ones the page lists first.
async function loadKinds() {
  const kinds = await api("GET", "/api/kinds");
  for (const [id, names] of [["#set-verify-kind", kinds.verify], ["#set-envelope", kinds.envelope]]) {
    const select = $(id);
    const present = new Set([...select.options].map((option) => option.value));
    for (const name of names) {
      if (!present.has(name)) select.append(el("option", { value: name, text: name }));
    }
  }
}

document.addEventListener("DOMContentLoaded", start);
