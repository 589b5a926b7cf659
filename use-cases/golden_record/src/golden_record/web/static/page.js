// What the review page and the golden-record viewer share (loaded before each page's script by
// base.html): the page's config, the reviewer's stored name, the data-state / data-version a
// browser test waits on, the error and message boxes, and one JSON call to the server.
window.GoldenRecordPage = (function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const config = JSON.parse($("page-config").textContent);
  const STORAGE_KEY = "golden_record.reviewer";

  function setState(name) { document.body.dataset.state = name; }
  function bump() { document.body.dataset.version = String(Number(document.body.dataset.version) + 1); }
  function showError(text) { $("error").textContent = text || ""; $("error").hidden = !text; }
  function showMessage(text) { $("message").textContent = text || ""; $("message").hidden = !text; }
  function fmt(x, digits) { return x === null || x === undefined ? "–" : Number(x).toFixed(digits); }

  // method + url (+ a JSON body) -> the answer's JSON; an Error with the server's message (or
  // ``unreachable`` when it does not answer) otherwise
  async function call(method, url, body, unreachable) {
    let response;
    try {
      response = await fetch(url, {
        method, headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      throw new Error("the review server does not answer (" + err.message + "): nothing was saved" +
        (unreachable ? ". " + unreachable : ""));
    }
    let data = null;
    try { data = await response.json(); } catch (err) { /* not JSON */ }
    if (!response.ok) {
      throw new Error((data && data.error) || ("the server answered " + response.status + " " + response.statusText +
        ": nothing was saved"));
    }
    return data;
  }

  // the reviewer's name form: a non-empty name is stored (this browser remembers it) and given to ``set``
  function onReviewerForm(set) {
    $("reviewer-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const name = $("reviewer-input").value.trim();
      if (!name) return;
      window.localStorage.setItem(STORAGE_KEY, name);
      set(name);
    });
  }

  return { $, config, STORAGE_KEY, setState, bump, showError, showMessage, fmt, call, onReviewerForm,
           storedReviewer: () => config.reviewer || window.localStorage.getItem(STORAGE_KEY) || "" };
})();
