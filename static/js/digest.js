// The chat page's "Summarise / compare documents" panel (templates/chat/_digest.html):
// estimate → confirm → start (POST .../digests/) → progress → the answer in the log.
// Progress comes from the conversation's socket (chat.js re-dispatches each frame as
// "theo:chat-event"); a slow poll of GET .../digests/<id>/ covers a socket that dropped.
(function () {
  "use strict";

  var panel = document.getElementById("digest");
  if (!panel) return;
  var conversationId = panel.dataset.conversation;
  var base = "/api/v1/chat/conversations/" + conversationId + "/digests/";
  var form = document.getElementById("digest-form");
  var question = document.getElementById("digest-question");
  var confirmBox = document.getElementById("digest-confirm");
  var estimateText = document.getElementById("digest-estimate-text");
  var startButton = document.getElementById("digest-start");
  var running = document.getElementById("digest-running");
  var bar = document.getElementById("digest-bar");
  var label = document.getElementById("digest-label");
  var errorBox = document.getElementById("digest-error");
  var log = document.getElementById("log");
  var pending = null; // the request the shown estimate is for
  var current = null; // the id of the digest being followed
  var pollTimer = null;

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function api(method, url, payload) {
    var options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (payload) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = csrf();
      options.body = JSON.stringify(payload);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error((data.error && data.error.message) || "Something went wrong (" + response.status + ").");
        return data;
      });
    });
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function chosen() {
    return Array.prototype.map.call(panel.querySelectorAll('input[name="digest-document"]:checked'), function (box) { return box.value; });
  }

  function money(value) { return "$" + Number(value).toFixed(value > 0 && value < 0.01 ? 4 : 2); }

  function describe(estimate) {
    var what = estimate.passages + " passage" + (estimate.passages === 1 ? "" : "s") + (estimate.part ? " (" + estimate.part + ")" : "");
    if (estimate.offline) return "Claude is not available: Theo will quote the most central sentences of " + what + ". No cost.";
    var text = what + " · " + estimate.calls + " Claude call" + (estimate.calls === 1 ? "" : "s") +
      " · at most " + money(estimate.estimated_cost_usd) + " (" + money(estimate.budget_left_usd) + " left of your budget).";
    return estimate.within_budget ? text + " Start?" : text + " That is more than your budget has left: name a chapter or pages to make it smaller.";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    showError("");
    var payload = { question: question.value.trim(), document_ids: chosen() };
    if (!payload.document_ids.length) { showError("Choose at least one document."); return; }
    api("POST", base + "estimate/", payload).then(function (estimate) {
      pending = payload;
      estimateText.textContent = describe(estimate);
      startButton.disabled = !estimate.within_budget;
      confirmBox.hidden = false;
      startButton.focus();
    }).catch(function (error) { showError(error.message); });
  });

  document.getElementById("digest-cancel").addEventListener("click", function () {
    confirmBox.hidden = true;
    pending = null;
  });

  startButton.addEventListener("click", function () {
    if (!pending) return;
    startButton.disabled = true;
    api("POST", base, pending).then(function (digest) {
      addBubble("user", pending.question);
      confirmBox.hidden = true;
      follow(digest);
    }).catch(function (error) { showError(error.message); startButton.disabled = false; });
  });

  function progress(done, total) {
    var percent = total ? Math.round(100 * done / total) : 0;
    bar.style.width = percent + "%"; // the CSSOM: allowed by the CSP
    bar.parentNode.setAttribute("aria-valuenow", String(percent));
    label.textContent = total ? "Reading… " + done + " / " + total : "Queued…";
  }

  function follow(digest) {
    current = digest.id;
    running.hidden = false;
    form.querySelector("button").disabled = true;
    progress(digest.progress.done, digest.progress.total);
    clearInterval(pollTimer);
    pollTimer = setInterval(poll, 3000);
  }

  function poll() {
    if (!current) return;
    api("GET", base + current + "/").then(function (digest) {
      if (digest.status === "ready") finished(digest.id, digest.message_id);
      else if (digest.status === "failed") failed(digest.id, digest.error ? digest.error.message : "The digest failed.");
      else progress(digest.progress.done, digest.progress.total);
    }).catch(function () { /* try again at the next tick */ });
  }

  function stop() {
    clearInterval(pollTimer);
    current = null;
    running.hidden = true;
    form.querySelector("button").disabled = false;
  }

  function failed(id, message) {
    if (id !== current) return;
    stop();
    showError(message);
  }

  function finished(id, messageId) {
    if (id !== current) return;
    stop();
    api("GET", "/api/v1/chat/conversations/" + conversationId + "/").then(function (conversation) {
      var message = conversation.messages.filter(function (m) { return m.id === messageId; })[0];
      if (!message) return;
      var node = addBubble("assistant", "");
      node.querySelector(".bubble-body").innerHTML = window.TheoMarkdown.render(message.content, message.citations);
      if (message.degraded) {
        node.classList.add("degraded");
        node.querySelector(".bubble-meta").textContent = "Answered without Claude (an extractive summary)";
      }
      log.scrollTop = log.scrollHeight;
    });
  }

  function addBubble(role, text) {
    document.getElementById("empty-log").hidden = true;
    var node = document.createElement("article");
    node.className = "bubble bubble-" + role;
    var body = document.createElement("div");
    body.className = "bubble-body";
    body.textContent = text;
    var meta = document.createElement("div");
    meta.className = "bubble-meta small muted";
    node.appendChild(body);
    node.appendChild(meta);
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  document.addEventListener("theo:chat-event", function (event) {
    var frame = event.detail || {};
    if (!current || frame.id !== current) return;
    if (frame.type === "digest.progress") progress(frame.done, frame.total);
    else if (frame.type === "digest.done") finished(frame.id, frame.message_id);
    else if (frame.type === "digest.failed") failed(frame.id, frame.message);
  });
})();
