// Clerical review page: one pair at a time, labels by button or key, one POST per label.
// No framework, no build step. The body's data-state ("busy" / "ready") and data-version (bumped
// after every answer from the server, success or error) let a browser test wait for each step.
(function () {
  "use strict";
  const { $, config, STORAGE_KEY, setState, bump, showError, showMessage, fmt } = window.GoldenRecordPage;
  const LABEL_TEXT = { match: "Match", not_match: "Not a match", unsure: "Unsure" };

  let reviewer = window.GoldenRecordPage.storedReviewer();
  let blind = !!config.blind;
  let busy = false;
  let current = null;      // the pair on screen

  function call(method, url, body) {
    return window.GoldenRecordPage.call(method, url, body, "Start golden-record review again, then repeat the last key.");
  }

  // ------------------------------------------------------------------ rendering
  function signed(x) { return (x >= 0 ? "+" : "") + Number(x).toFixed(2); }

  function valueCell(parts, value) {
    const td = document.createElement("td");
    td.className = "value";
    if (value === null || value === undefined) {
      const span = document.createElement("span");
      span.className = "absent";
      span.textContent = "missing";
      td.appendChild(span);
      return td;
    }
    for (const [text, differs] of parts) {
      const node = differs ? document.createElement("mark") : document.createTextNode(text);
      if (differs) node.textContent = text;
      td.appendChild(node);
    }
    return td;
  }

  function renderPair(pair) {
    current = pair;
    $("pair-title").textContent = "Pair " + pair.position + " of " + config.total + ": records " +
      pair.left_id + " and " + pair.right_id;
    const missing = pair.rows.filter((r) => r.status === "one_missing").length;
    $("pair-summary").textContent = pair.differing + " of " + pair.rows.length + " fields differ" +
      (missing ? ", " + missing + " missing on one side" : "") + (pair.reason ? " · asked because: " + pair.reason : "");
    $("left-head").textContent = "Record " + pair.left_id;
    $("right-head").textContent = "Record " + pair.right_id;
    const body = document.querySelector("#records tbody");
    body.replaceChildren();
    for (const row of pair.rows) {
      const tr = document.createElement("tr");
      tr.className = row.status;
      tr.dataset.field = row.field;
      const name = document.createElement("td");
      name.className = "field";
      name.textContent = row.field;
      tr.append(name, valueCell(row.left_parts, row.left), valueCell(row.right_parts, row.right));
      const level = document.createElement("td");
      level.className = "level score-only";
      if (!blind && row.level) {
        const w = document.createElement("span");
        w.className = row.weight > 0 ? "pos" : row.weight < 0 ? "neg" : "";
        w.textContent = " (" + signed(row.weight || 0) + ")";
        level.append(document.createTextNode(row.level), w);
        level.title = "comparison " + row.comparison;
      } else if (!blind) {
        const none = document.createElement("span");
        none.className = "none";
        none.textContent = "not compared";
        level.appendChild(none);
      }
      tr.appendChild(level);
      body.appendChild(tr);
    }
    const figure = $("waterfall-figure");
    if (blind) {
      $("probability").textContent = "";
      $("match-weight").textContent = "";
      $("verdict").textContent = "";
      $("truth").textContent = "";
      $("waterfall").removeAttribute("src");
      return;
    }
    if (!pair.scored) {
      $("probability").textContent = "no score";
      $("match-weight").textContent = "–";
      $("verdict").textContent = "never compared (blocking did not make it a candidate pair)";
      figure.hidden = true;
    } else {
      $("probability").textContent = fmt(pair.probability, 4);
      $("match-weight").textContent = signed(pair.match_weight) + " bits";
      $("verdict").textContent = (pair.predicted_match ? "match" : "not a match") + " at threshold " + pair.threshold;
      $("verdict").className = pair.predicted_match ? "verdict-match" : "verdict-non";
      figure.hidden = false;
      $("waterfall").alt = "waterfall chart of the pair's score";
      $("waterfall").src = "api/waterfall/" + pair.index + ".png";
    }
    const hasTruth = pair.true_match !== null && pair.true_match !== undefined;
    $("truth-term").hidden = !hasTruth;
    $("truth").hidden = !hasTruth;
    $("truth").textContent = hasTruth ? (pair.true_match ? "same person" : "different people") : "";
  }

  function render(state) {
    const pct = state.total ? Math.round(100 * state.labelled / state.total) : 100;
    $("progress").textContent = state.labelled + " of " + state.total + " labelled";
    $("progress-fill").style.width = pct + "%";
    $("reviewer-name").textContent = reviewer;
    $("pair").hidden = state.done;
    $("done").hidden = !state.done;
    for (const id of ["btn-match", "btn-not-match", "btn-unsure"]) $(id).disabled = state.done;
    if (state.done) {
      current = null;
      $("done-text").textContent = state.total
        ? "All " + state.total + " pairs of this queue are labelled by " + reviewer + ". The next make train " +
          "counts them (labelled_* metrics in its run). Press Z to undo the last label."
        : "This queue is empty: the run has no pairs of this kind to review.";
    } else {
      renderPair(state.pair);
    }
  }

  // after each batch of labels the server says how they move the model's estimate
  function showMoved(moved) {
    if (!moved) return;
    const box = $("moved");
    box.textContent = "Batch done: " + moved.text;
    box.hidden = false;
  }

  function applyBlind() {
    document.body.classList.toggle("blind", blind);
    $("blind-badge").hidden = !blind;
    $("blind-label").textContent = blind ? "Show score" : "Blind mode";
  }

  // ------------------------------------------------------------------ actions
  async function step(work) {
    if (busy) { showMessage("Still saving the last action: press the key again once the next pair shows."); return; }
    busy = true;
    setState("busy");
    try {
      await work();
      showError("");
    } catch (err) {
      showMessage("");
      showError(err.message);
    } finally {
      busy = false;
      setState("ready");
      bump();
    }
  }

  function load() {
    return step(async () => {
      const params = new URLSearchParams({ reviewer, blind: blind ? "1" : "0" });
      render(await call("GET", "api/state?" + params.toString()));
    });
  }

  function label(kind) {
    if (!current) { showMessage("Nothing to label: the queue is done."); return; }
    const pair = current;
    return step(async () => {
      const state = await call("POST", "api/label", {
        reviewer, blind, label: kind, left_id: pair.left_id, right_id: pair.right_id,
      });
      showMessage("Saved: " + pair.left_id + " – " + pair.right_id + " " + LABEL_TEXT[kind] + ".");
      showMoved(state.moved);
      render(state);
    });
  }

  function undo() {
    return step(async () => {
      const state = await call("POST", "api/undo", { reviewer, blind });
      const u = state.undone;
      showMessage(u ? "Undone: " + u.left_id + " – " + u.right_id + " " + (LABEL_TEXT[u.label] || u.label) +
        (u.in_queue ? " (the pair is shown again)." : " (a pair of another queue of this run).") : "Nothing to undo: you have no label in this run.");
      render(state);
    });
  }

  function toggleBlind() {
    blind = !blind;
    applyBlind();
    return load();
  }

  function start() {
    if (!reviewer) {
      $("review").hidden = true;
      $("ask-reviewer").hidden = false;
      $("reviewer-input").focus();
      setState("ready");
      return;
    }
    $("ask-reviewer").hidden = true;
    $("review").hidden = false;
    $("change-reviewer").hidden = !!config.reviewer;
    $("reviewer-name").textContent = reviewer;
    load();
  }

  window.GoldenRecordPage.onReviewerForm((name) => { reviewer = name; $("reviewer-input").blur(); start(); });
  $("change-reviewer").addEventListener("click", () => {
    reviewer = "";
    window.localStorage.removeItem(STORAGE_KEY);
    $("reviewer-name").textContent = "–";
    start();
  });
  for (const id of ["btn-match", "btn-not-match", "btn-unsure"]) {
    $(id).addEventListener("click", (event) => label(event.currentTarget.dataset.label));
  }
  $("waterfall").addEventListener("error", () => {
    if ($("waterfall").getAttribute("src")) {
      $("waterfall").removeAttribute("src");
      $("waterfall").alt = "the waterfall chart could not be loaded (is golden-record review still running?)";
    }
  });
  $("btn-undo").addEventListener("click", undo);
  $("btn-blind").addEventListener("click", toggleBlind);

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
    if (!reviewer) return;
    const key = event.key.toLowerCase();
    const action = { m: () => label("match"), n: () => label("not_match"), u: () => label("unsure"),
      z: undo, backspace: undo, b: toggleBlind }[key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  applyBlind();
  start();
})();
