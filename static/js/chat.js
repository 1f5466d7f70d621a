// The chat page: history from the server, questions over the WebSocket /ws/chat/<id>/,
// answers streamed as `delta` events and rendered with TheoMarkdown (escape-first: no HTML
// from the model or from documents ever executes), citation chips, degraded and error
// states, reconnection with backoff (the server finishes an answer even if we drop).
(function () {
  "use strict";

  // New-conversation form: the document picker only for "one document".
  var scopeSelect = document.getElementById("new-scope");
  if (scopeSelect) {
    var documentField = document.getElementById("new-document");
    var toggle = function () { documentField.hidden = scopeSelect.value !== "document"; };
    scopeSelect.addEventListener("change", toggle);
    toggle();
  }

  var root = document.getElementById("chat");
  if (!root) return;
  // On a phone the conversation comes first: fold the sidebar away.
  if (window.matchMedia("(max-width: 860px)").matches) document.getElementById("sidebar-details").open = false;
  var conversationId = root.dataset.conversation;
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("question");
  var send = document.getElementById("send");
  var connection = document.getElementById("connection");
  var socket = null;
  var retry = 0;
  var current = null; // the assistant bubble being streamed
  var lastQuestion = "";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function bubble(role) {
    document.getElementById("empty-log").hidden = true;
    var node = el("article", "bubble bubble-" + role);
    node.appendChild(el("div", "bubble-body"));
    node.appendChild(el("div", "bubble-meta small muted"));
    log.appendChild(node);
    return node;
  }

  function renderAssistant(node, text, citations) {
    node.querySelector(".bubble-body").innerHTML = window.TheoMarkdown.render(text, citations);
  }

  function meta(node, message) {
    var parts = [];
    if (message.degraded) parts.push("Answered without Claude" + (message.degraded_reason ? " (" + reason(message.degraded_reason) + ")" : ""));
    var unverified = (message.citations || []).filter(function (c) { return !c.verified; }).length;
    if (unverified) parts.push(unverified + " citation" + (unverified > 1 ? "s" : "") + " could not be verified");
    if (message.usage && message.usage.cost_usd) parts.push("$" + Number(message.usage.cost_usd).toFixed(4));
    var box = node.querySelector(".bubble-meta");
    box.textContent = parts.join(" · ");
    node.classList.toggle("degraded", !!message.degraded);
  }

  // Under an answer: what retrieval searched for, and every numbered source it was given
  // (snippet, locator, link), the cited ones marked. From the `done` event or the history.
  // Only the newest answer's panel starts open (on a wide screen): older ones fold away.
  function sourcesPanel(node, message, latest) {
    var old = node.querySelector(".answer-sources");
    if (old) old.remove();
    var sources = message.sources || [];
    if (!message.search_query && !sources.length) return;
    var box = el("div", "answer-sources");
    if (message.search_query) {
      var searched = el("p", "searched-for small muted", "searched for: ");
      searched.appendChild(el("q", null, message.search_query));
      box.appendChild(searched);
    }
    if (sources.length) {
      var cited = sources.filter(function (s) { return s.cited; }).length;
      var details = el("details", "sources-panel");
      details.open = !!latest && !window.matchMedia("(max-width: 860px)").matches;
      details.appendChild(el("summary", "small", "Sources (" + sources.length + ", " + cited + " cited)"));
      var list = el("ol", "source-list");
      sources.forEach(function (source) {
        var item = el("li", "source-item" + (source.cited ? " cited" : ""));
        item.id = "source-" + (message.id || "new") + "-" + source.n;
        var head = el("div", "source-head");
        head.appendChild(el("span", "source-n", String(source.n)));
        var label = source.url && /^\/(?!\/)/.test(source.url) ? el("a", "source-locator", source.locator) : el("span", "source-locator", source.locator);
        if (label.tagName === "A") label.href = source.url;
        head.appendChild(label);
        if (source.cited) head.appendChild(el("span", "badge badge-cited", "cited"));
        item.appendChild(head);
        if (source.snippet) item.appendChild(el("p", "source-snippet small", source.snippet));
        list.appendChild(item);
      });
      details.appendChild(list);
      box.appendChild(details);
    }
    node.appendChild(box);
  }

  function reason(code) {
    return {
      no_api_key: "not configured",
      breaker_open: "Claude unavailable",
      provider_error: "Claude failed",
      budget_exceeded: "monthly budget used up",
    }[code] || code;
  }

  function showHistory(messages) {
    Array.prototype.slice.call(log.querySelectorAll(".bubble")).forEach(function (node) { node.remove(); });
    var lastAnswer = messages.map(function (m) { return m.role; }).lastIndexOf("assistant");
    messages.forEach(function (message, index) {
      var node = bubble(message.role);
      if (message.role === "user") node.querySelector(".bubble-body").textContent = message.content;
      else {
        renderAssistant(node, message.content, message.citations);
        meta(node, message);
        sourcesPanel(node, message, index === lastAnswer);
        if (message.status === "failed") node.classList.add("failed");
      }
    });
    scrollDown();
  }

  function setBusy(busy) {
    send.disabled = busy;
    input.readOnly = busy;
    root.classList.toggle("busy", busy);
  }

  function showError(message) {
    var node = el("p", "alert alert-error", message);
    node.setAttribute("role", "alert");
    log.appendChild(node);
    scrollDown();
  }

  function onEvent(event) {
    if (event.type === "delta") {
      if (!current) current = { node: bubble("assistant"), text: "" };
      current.text += event.text;
      renderAssistant(current.node, current.text, null);
      scrollDown();
    } else if (event.type === "citations") {
      if (current) { current.citations = event.items; renderAssistant(current.node, current.text, event.items); }
    } else if (event.type === "done") {
      if (current) {
        meta(current.node, { degraded: event.degraded, degraded_reason: event.degraded_reason, citations: current.citations, usage: event.usage });
        Array.prototype.forEach.call(log.querySelectorAll(".sources-panel"), function (panel) { panel.open = false; });
        sourcesPanel(current.node, { id: event.message_id, search_query: event.search_query, sources: event.sources }, true);
      }
      current = null;
      setBusy(false);
      var title = document.getElementById("chat-title");
      if (title.textContent === "New conversation" && lastQuestion) {
        title.textContent = lastQuestion.length > 80 ? lastQuestion.slice(0, 80).replace(/\s+\S*$/, "") + "…" : lastQuestion;
      }
      input.focus();
    } else if (event.type === "error") {
      var text = event.message + (event.retry_after ? " (try again in " + event.retry_after + " s)" : "");
      showError(text);
      if (!current || event.code !== "provider_error") { setBusy(false); }
    }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/ws/chat/" + conversationId + "/");
    connection.textContent = "Connecting…";
    socket.addEventListener("open", function () {
      connection.textContent = "Live";
      connection.className = "connection live";
      if (retry > 0) reload(); // answers may have finished while we were away
      retry = 0;
    });
    socket.addEventListener("message", function (message) {
      try { onEvent(JSON.parse(message.data)); } catch (ignored) { /* not ours */ }
    });
    // Every event also goes to the page as "theo:chat-event" (static/js/digest.js follows digest.* ones).
    socket.addEventListener("message", function (message) {
      try { document.dispatchEvent(new CustomEvent("theo:chat-event", { detail: JSON.parse(message.data) })); } catch (ignored) { /* not JSON */ }
    });
    socket.addEventListener("close", function (closed) {
      connection.className = "connection";
      if (closed.code === 4404) { connection.textContent = "This conversation is gone."; return; }
      if (closed.code === 4401 || closed.code === 4403) { connection.textContent = "Signed out."; return; }
      if (closed.code === 4008 || closed.code === 4013) { connection.textContent = "Too many open chats."; return; }
      connection.textContent = "Reconnecting…";
      retry += 1;
      setTimeout(connect, Math.min(15000, 500 * Math.pow(2, retry)));
    });
  }

  function reload() {
    fetch("/api/v1/chat/conversations/" + conversationId + "/", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        current = null;
        setBusy(false);
        showHistory(data.messages);
        document.getElementById("chat-title").textContent = data.title || "New conversation";
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question || send.disabled) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) { showError("Not connected yet; try again in a moment."); return; }
    var node = bubble("user");
    node.querySelector(".bubble-body").textContent = question;
    scrollDown();
    setBusy(true);
    socket.send(JSON.stringify({ type: "message", content: question }));
    lastQuestion = question.replace(/\s+/g, " ");
    input.value = "";
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  showHistory(JSON.parse(document.getElementById("history").textContent));
  connect();
  input.focus();
})();
