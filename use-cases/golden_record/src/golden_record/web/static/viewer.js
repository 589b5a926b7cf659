// Golden-record viewer (the review page's second tab): search, one golden record, split and merge.
// Every value is put on the page as text (textContent), never as HTML: record values are user data.
// The body's data-state ("busy" / "ready") and data-version (bumped after every answer) let a
// browser test wait for each step, as on the review page.
(function () {
  "use strict";
  const { $, config, setState, bump, showError, showMessage, fmt } = window.GoldenRecordPage;
  const LABEL_TEXT = { match: "match", not_match: "not a match", unsure: "unsure" };
  const base = window.location.pathname.replace(/\/?$/, "/");
  let reviewer = window.GoldenRecordPage.storedReviewer();
  let current = null;       // the golden record on screen
  let pending = null;       // the action waiting for confirmation

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function pair(a, b) { return a + " – " + b; }

  function call(method, url, body) { return window.GoldenRecordPage.call(method, base + url, body); }

  async function step(work) {
    setState("busy");
    try {
      showError("");
      await work();
    } catch (err) {
      showError(err.message);
    } finally {
      setState("ready");
      bump();
    }
  }

  function goldenButton(id, text) {
    const b = el("button", text || id, "link");
    b.type = "button";
    b.dataset.golden = id;
    b.addEventListener("click", () => open(id));
    return b;
  }

  // ------------------------------------------------------------------ search
  async function search(q) {
    const data = await call("GET", "api/search?" + new URLSearchParams({ q }));
    const list = $("results");
    list.replaceChildren();
    for (const r of data.results) {
      const li = el("li");
      li.append(goldenButton(r.golden_id, "Golden record " + r.golden_id),
        el("span", " · " + (r.member_count || "?") + " members · record " + r.record_id +
          (r.name ? " (" + r.name + ")" : "") + " · found by " + r.how));
      list.appendChild(li);
    }
    const note = $("results-note");
    note.hidden = false;
    note.textContent = data.results.length
      ? (data.more ? "… and " + data.more + " more golden records: refine the search" : "")
      : "No golden record holds a record whose id, golden id or name matches " + JSON.stringify(data.query) + ".";
    if (data.results.length === 1) await open(data.results[0].golden_id);
  }

  // ------------------------------------------------------------------ one golden record
  async function open(id) {
    await step(async () => {
      hideConfirm();
      const g = await call("GET", "api/golden/" + encodeURIComponent(id));
      render(g);
      const url = new URL(window.location.href);
      url.searchParams.set("id", g.golden_id);
      window.history.replaceState(null, "", url);
    });
  }

  function partsCell(parts, value, className) {
    const td = el("td", null, "value " + className);
    if (value === null || value === undefined) { td.appendChild(el("span", "missing", "absent")); return td; }
    for (const [text, differs] of parts) td.appendChild(differs ? el("mark", text) : document.createTextNode(text));
    return td;
  }

  function render(g) {
    current = g;
    $("golden").hidden = false;
    $("golden-title").textContent = "Golden record " + g.golden_id + " · " + g.member_count + " members";
    $("golden-summary").textContent = "cluster confidence " + fmt(g.cluster_confidence, 4) +
      " · built " + (g.built_at || "?") + " by run " + String(g.built_by_run || "?").slice(0, 12) +
      " · scored here by the model of run " + g.model_run.slice(0, 12) + " (threshold " + g.threshold + ")" +
      (g.built_by_run && g.built_by_run !== g.model_run ? " · note: built by another run than this page's model: the " +
        "links, rules and previews below are this model's, the surviving values the build's" : "");
    // surviving values
    const sv = document.querySelector("#survivors tbody");
    sv.replaceChildren();
    for (const s of g.survivors) {
      const tr = el("tr");
      tr.dataset.field = s.field;
      const value = el("td", s.value === null ? "missing" : s.value, "value" + (s.value === null ? " absent" : ""));
      tr.append(el("td", s.field, "field"), value, el("td", s.source || "–"),
        el("td", s.decided_by + " (" + s.chain.join(" → ") + ")"));
      sv.appendChild(tr);
    }
    // members side by side
    const head = document.querySelector("#members thead");
    const body = document.querySelector("#members tbody");
    head.replaceChildren();
    body.replaceChildren();
    const hr = el("tr");
    hr.appendChild(el("th", "Field"));
    for (const m of g.members) {
      const th = el("th", "Record " + m.record_id);
      th.dataset.member = m.record_id;
      th.appendChild(el("span", "linked at " + fmt(m.link_probability, 4), "sub"));
      for (const k of Object.keys(m)) {
        if (!["record_id", "link_probability", "values"].includes(k) && m[k] !== null) th.appendChild(el("span", k + ": " + m[k], "sub"));
      }
      if (g.members.length > 1) {
        const b = el("button", "Split off…", "split");
        b.type = "button";
        b.dataset.member = m.record_id;
        b.addEventListener("click", () => ask("split", m.record_id));
        th.appendChild(b);
      }
      hr.appendChild(th);
    }
    head.appendChild(hr);
    g.survivors.forEach((s, i) => {
      const tr = el("tr");
      tr.dataset.field = s.field;
      tr.appendChild(el("td", s.field, "field"));
      for (const m of g.members) {
        const v = m.values[i];
        const td = partsCell(v.parts, v.value, v.status + (v.survived ? " survived" : ""));
        if (v.raw) td.title = "as stored: " + v.raw;
        td.dataset.member = m.record_id;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    });
    $("members-more").hidden = !g.members_more;
    $("members-more").textContent = g.members_more ? g.members_more + " more members not shown (the first " +
      g.members_shown + " by record id are)" : "";
    // links
    const weakKey = g.weakest ? pair(g.weakest.left_id, g.weakest.right_id) : null;
    $("weakest").textContent = g.weakest
      ? "Weakest link holding it together: " + weakKey + " at probability " + fmt(g.weakest.probability, 6) +
        " (match weight " + fmt(g.weakest.match_weight, 2) + ")"
      : "No match link between the members" + (g.members.length > 1 ? " (labels or an earlier model joined them)" : ": a record of its own");
    const eb = document.querySelector("#edges tbody");
    eb.replaceChildren();
    for (const e of g.edges) {
      const tr = el("tr", null, pair(e.left_id, e.right_id) === weakKey ? "weakest" : "");
      tr.dataset.pair = e.left_id + "-" + e.right_id;
      const b = el("button", "Waterfall");
      b.type = "button";
      b.addEventListener("click", () => waterfall(e));
      tr.append(el("td", pair(e.left_id, e.right_id)), el("td", fmt(e.probability, 6)), el("td", fmt(e.match_weight, 2)),
        el("td", e.is_match ? "match" : "not a match"), el("td", e.label ? LABEL_TEXT[e.label] : "–"), el("td"));
      tr.lastChild.appendChild(b);
      eb.appendChild(tr);
    }
    if (g.weakest) waterfall(g.weakest); else $("edge-figure").hidden = true;
    // nearest left out
    const nb = document.querySelector("#nearest tbody");
    nb.replaceChildren();
    $("nearest-note").hidden = !g.nearest.note;
    $("nearest-note").textContent = g.nearest.note || "";
    for (const r of g.nearest.records) {
      const tr = el("tr");
      tr.dataset.record = r.record_id;
      const gcell = el("td");
      gcell.appendChild(goldenButton(r.golden_id));
      const merge = el("button", "Merge…", "merge");
      merge.type = "button";
      merge.dataset.golden = r.golden_id;
      merge.addEventListener("click", () => ask("merge", r.golden_id));
      tr.append(el("td", r.record_id), gcell, el("td", r.closest_member), el("td", fmt(r.probability, 6)),
        el("td", fmt(r.match_weight, 2)), el("td", r.label ? LABEL_TEXT[r.label] : "–"), el("td"));
      tr.lastChild.appendChild(merge);
      nb.appendChild(tr);
    }
    if (!g.nearest.records.length && !g.nearest.note) nb.appendChild(el("tr")).appendChild(el("td", "none found"));
    // labels since the build
    const pl = $("pending");
    pl.replaceChildren();
    for (const p of g.labels_since_build) {
      pl.appendChild(el("li", pair(p.left_id, p.right_id) + ": " + LABEL_TEXT[p.label] + " (" + p.reviewer + ")"));
    }
    if (!g.labels_since_build.length) pl.appendChild(el("li", "none: the golden record is as the labels say"));
  }

  function waterfall(e) {
    $("edge-figure").hidden = false;
    $("edge-waterfall").src = base + "api/waterfall/" + encodeURIComponent(e.left_id) + "/" +
      encodeURIComponent(e.right_id) + ".png";
    $("edge-caption").textContent = "Records " + pair(e.left_id, e.right_id) + ": the prior, then each comparison raises " +
      "(green) or lowers (red) the log odds of a match; the dashed line is the threshold.";
  }

  // ------------------------------------------------------------------ split and merge
  function hideConfirm() { $("confirm").hidden = true; pending = null; }

  async function ask(action, target) {
    await step(async () => {
      showMessage("");
      const plan = await call("POST", "api/preview", { action, golden_id: current.golden_id, target, reviewer });
      pending = { action, golden_id: current.golden_id, target };
      $("confirm-title").textContent = (action === "split" ? "Split record " + target + " off golden record "
        : "Merge golden record " + current.golden_id + " with ") + (action === "split" ? current.golden_id : target);
      $("confirm-text").textContent = plan.text;
      $("confirm").hidden = false;
    });
  }

  async function confirm() {
    if (!pending) return;
    if (!reviewer) { showError("enter your name (top right) before storing labels: labels are kept per reviewer"); bump(); return; }
    const action = pending;
    await step(async () => {
      const done = await call("POST", "api/apply", { ...action, reviewer });
      hideConfirm();
      const g = await call("GET", "api/golden/" + encodeURIComponent(action.golden_id));
      render(g);
      showMessage("Stored in pair_labels: " + done.text);
    });
  }

  // ------------------------------------------------------------------ wiring
  function showReviewer() { $("reviewer-name").textContent = reviewer || "not set"; }
  window.GoldenRecordPage.onReviewerForm((name) => { reviewer = name; showReviewer(); });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    step(() => search($("search-input").value));
  });
  $("merge-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("merge-input").value.trim();
    if (id) ask("merge", id);
  });
  $("confirm-yes").addEventListener("click", confirm);
  $("confirm-no").addEventListener("click", () => { hideConfirm(); bump(); });
  showReviewer();
  const start = new URLSearchParams(window.location.search).get("id");
  if (start) open(start); else { setState("ready"); bump(); }
})();
