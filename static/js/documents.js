// Documents pages: upload with a progress bar, and the live document room
// (progress, presence, notes, sharing). User content is only ever set with textContent.
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: Object.assign({ "X-CSRFToken": csrf, Accept: "application/json" },
        body !== undefined ? { "Content-Type": "application/json" } : {}),
      body: body !== undefined ? JSON.stringify(body) : undefined,
    }).then(function (response) {
      if (response.status === 204) return null;
      return response.json().then(function (data) {
        if (!response.ok) throw data.error || { message: "Request failed (" + response.status + ")." };
        return data;
      });
    });
  }

  function errorText(error) {
    var details = error.details || {};
    var first = Object.keys(details).map(function (k) { return [].concat(details[k]).join(" "); })[0];
    return first && first !== "[object Object]" ? first : error.message;
  }

  function show(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- upload -----------------------------------------------------------------------
  var form = document.getElementById("upload-form");
  if (form) {
    var input = document.getElementById("file");
    var dropzone = document.getElementById("dropzone");
    var chosen = document.getElementById("chosen");
    var button = document.getElementById("upload-button");
    var bar = document.getElementById("upload-progress");
    var errorBox = document.getElementById("upload-error");
    var maxBytes = parseInt(document.getElementById("upload").dataset.maxMb, 10) * 1024 * 1024;
    var file = null;

    function choose(candidate) {
      file = candidate || null;
      show(errorBox, "");
      chosen.textContent = file ? file.name + " (" + Math.ceil(file.size / 1024) + " KB)" : "";
      if (file && file.size > maxBytes) {
        show(errorBox, "This file is larger than the " + (maxBytes / 1048576) + " MB limit.");
        file = null;
      }
      button.disabled = !file;
    }

    dropzone.addEventListener("click", function () { input.click(); });
    dropzone.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
    input.addEventListener("change", function () { choose(input.files[0]); });
    ["dragenter", "dragover"].forEach(function (name) {
      dropzone.addEventListener(name, function (e) { e.preventDefault(); dropzone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      dropzone.addEventListener(name, function (e) { e.preventDefault(); dropzone.classList.remove("over"); });
    });
    dropzone.addEventListener("drop", function (e) { choose(e.dataTransfer.files[0]); });

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!file) return;
      var data = new FormData();
      data.append("file", file);
      data.append("title", document.getElementById("title").value);
      data.append("document_type", document.getElementById("document_type").value);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/documents/");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      button.disabled = true;
      xhr.upload.addEventListener("progress", function (event) {
        if (!event.lengthComputable) return;
        var percent = Math.round((event.loaded / event.total) * 100);
        bar.querySelector(".bar").style.width = percent + "%";
        bar.querySelector(".label").textContent = percent < 100 ? "Uploading " + percent + "%" : "Checking the file…";
      });
      xhr.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (ignored) { /* not JSON */ }
        if (xhr.status === 202) {
          window.location.href = "/documents/" + body.id + "/";
          return;
        }
        bar.hidden = true;
        button.disabled = false;
        var error = body.error || { message: "Upload failed (" + xhr.status + ")." };
        if (error.code === "duplicate_document" && error.details && error.details.document_id) {
          show(errorBox, error.message + " Opening it…");
          setTimeout(function () { window.location.href = "/documents/" + error.details.document_id + "/"; }, 1200);
          return;
        }
        show(errorBox, errorText(error));
      });
      xhr.addEventListener("error", function () {
        bar.hidden = true;
        button.disabled = false;
        show(errorBox, "The upload was interrupted. Check your connection and try again.");
      });
      xhr.send(data);
    });
  }

  // --- the document room --------------------------------------------------------------
  var root = document.getElementById("document");
  if (!root) return;
  var documentId = root.dataset.id;
  var canEdit = root.dataset.canEdit === "true";
  var lastNews = Date.now(); // when the server last told us the document's state

  function finished(status) { return status === "completed" || status === "failed"; }

  // The room replays the current state when the socket opens, and the page also asks the API
  // whenever the socket is down or quiet: a document that finished before (or while) the
  // page subscribed is still seen finishing.
  function setProgress(event) {
    lastNews = Date.now();
    var progress = document.getElementById("doc-progress");
    progress.querySelector(".bar").style.width = event.progress + "%";
    progress.querySelector(".label").textContent = event.progress + "%";
    progress.setAttribute("aria-valuenow", event.progress);
    show(document.getElementById("progress-message"), event.status === "failed" ? "" : event.message || "");
    var badge = document.getElementById("status-badge");
    badge.className = "status status-" + event.status;
    badge.textContent = event.status.charAt(0).toUpperCase() + event.status.slice(1);
    var items = Array.prototype.slice.call(document.querySelectorAll("#stages li"));
    var current = items.findIndex(function (item) { return item.dataset.stage === event.stage; });
    items.forEach(function (item, index) {
      item.classList.remove("done", "current", "failed");
      if (event.status === "completed" || index < current) item.classList.add("done");
      else if (index === current && event.status === "failed") item.classList.add("failed");
      else if (index === current && event.status === "processing") item.classList.add("current");
    });
    show(document.getElementById("failure"), event.status === "failed" ? event.failure_reason : "");
    var wasFinished = finished(root.dataset.status);
    root.dataset.status = event.status;
    if (event.status === "completed" && !wasFinished) showResults();
  }

  // The passages (and what reading found: pages, themes) from the server's own page, swapped
  // in place: no reload, the room's socket stays open.
  var fetching = false;
  function showResults() {
    if (fetching) return;
    fetching = true;
    fetch(window.location.pathname + window.location.search, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["passages", "doc-meta", "themes"].forEach(function (id) {
          var now = document.getElementById(id);
          var next = fresh.getElementById(id);
          if (now && next) now.replaceWith(document.importNode(next, true));
        });
        fetching = false;
      })
      .catch(function () { window.location.reload(); });
  }

  function askState() {
    api("GET", "/api/v1/documents/" + documentId + "/").then(function (d) {
      setProgress({ status: d.status, stage: d.stage, progress: d.progress, message: d.progress_message, failure_reason: d.failure_reason });
    }).catch(function () { /* the socket or the next check will tell */ });
  }
  setInterval(function () {
    if (!finished(root.dataset.status) && Date.now() - lastNews > 15000) askState();
  }, 5000);

  function renderPresence(users) {
    var list = document.getElementById("presence-list");
    list.textContent = "";
    users.forEach(function (user) {
      var chip = el("span", "avatar", user.display_name);
      chip.title = user.display_name;
      list.appendChild(chip);
    });
  }

  var here = {};
  function presenceChanged() {
    renderPresence(Object.keys(here).map(function (id) { return here[id]; }));
  }

  function addNote(note) {
    var list = document.getElementById("note-list");
    var empty = document.getElementById("no-notes");
    if (empty) empty.remove();
    if (list.querySelector('[data-note-id="' + note.id + '"]')) return;
    var item = el("li", "note");
    item.dataset.noteId = note.id;
    var meta = el("div", "note-meta");
    meta.appendChild(el("strong", null, note.author ? note.author.display_name : "someone"));
    if (note.page) meta.appendChild(document.createTextNode(" · p. " + note.page));
    if (note.verse_reference) {
      meta.appendChild(document.createTextNode(" · "));
      meta.appendChild(el("span", "chip ref", note.verse_reference));
    }
    meta.appendChild(document.createTextNode(" · just now"));
    item.appendChild(meta);
    item.appendChild(el("p", null, note.body));
    list.appendChild(item);
  }

  function connect(attempt) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/documents/" + documentId + "/");
    socket.addEventListener("message", function (message) {
      var event = JSON.parse(message.data);
      if (event.type === "presence") {
        here = {};
        event.users.forEach(function (u) { here[u.id] = u; });
        presenceChanged();
      } else if (event.type === "user.joined") {
        here[event.user.id] = event.user;
        presenceChanged();
      } else if (event.type === "user.left") {
        delete here[event.user.id];
        presenceChanged();
      } else if (event.type === "progress") {
        setProgress(event);
      } else if (event.type === "note.created") {
        addNote(event.note);
      } else if (event.type === "deleted") {
        window.location.href = "/documents/";
      }
    });
    socket.addEventListener("close", function (event) {
      if (event.code === 4404 || event.code === 4403 || event.code === 4401) return;
      if (!finished(root.dataset.status)) askState(); // what happened while we were away
      if (event.code === 4008) return; // this account has too many sockets open: no reconnect loop
      var delay = Math.min(30000, 1000 * Math.pow(2, attempt || 0));
      setTimeout(function () { connect((attempt || 0) + 1); }, delay);
    });
    socket.addEventListener("open", function () { attempt = 0; });
  }
  connect(0);

  // --- actions ------------------------------------------------------------------------
  function on(id, handler) {
    var node = document.getElementById(id);
    if (node) node.addEventListener("click", handler);
  }

  on("reprocess", function () {
    api("POST", "/api/v1/documents/" + documentId + "/reprocess/").then(setProgress).catch(function (e) { alert(errorText(e)); });
  });
  on("rename", function () {
    var title = window.prompt("New title", document.getElementById("doc-title").textContent);
    if (!title) return;
    api("PATCH", "/api/v1/documents/" + documentId + "/", { title: title })
      .then(function (d) { document.getElementById("doc-title").textContent = d.title; document.title = d.title + " · Theo"; })
      .catch(function (e) { alert(errorText(e)); });
  });
  on("delete", function () {
    if (!window.confirm("Delete this document, its passages and notes? This cannot be undone.")) return;
    api("DELETE", "/api/v1/documents/" + documentId + "/")
      .then(function () { window.location.href = "/documents/"; })
      .catch(function (e) { alert(errorText(e)); });
  });

  // Delegated: the passages are swapped in when processing ends.
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".note-on");
    if (!button) return;
    document.getElementById("note-passage").value = button.dataset.passageId;
    document.getElementById("note-page").value = button.dataset.page || "";
    show(document.getElementById("note-anchor"), "On the passage " + (button.dataset.page ? "at p. " + button.dataset.page : "selected"));
    document.getElementById("note-body").focus();
  });

  var noteForm = document.getElementById("note-form");
  if (noteForm && canEdit) {
    noteForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var payload = { body: document.getElementById("note-body").value };
      var page = document.getElementById("note-page").value;
      var verse = document.getElementById("note-verse").value;
      var passage = document.getElementById("note-passage").value;
      if (page) payload.page = parseInt(page, 10);
      if (verse) payload.verse_reference = verse;
      if (passage) payload.passage_id = passage;
      api("POST", "/api/v1/documents/" + documentId + "/notes/", payload)
        .then(function (note) {
          addNote(note);
          noteForm.reset();
          document.getElementById("note-passage").value = "";
          show(document.getElementById("note-anchor"), "");
          show(document.getElementById("note-error"), "");
        })
        .catch(function (error) { show(document.getElementById("note-error"), errorText(error)); });
    });
  }

  var shareForm = document.getElementById("share-form");
  if (shareForm) {
    shareForm.addEventListener("submit", function (e) {
      e.preventDefault();
      api("POST", "/api/v1/documents/" + documentId + "/shares/", {
        email: document.getElementById("share-email").value,
        permission: document.getElementById("share-permission").value,
      }).then(function () { window.location.reload(); })
        .catch(function (error) { show(document.getElementById("share-error"), errorText(error)); });
    });
    document.querySelectorAll(".unshare").forEach(function (button) {
      button.addEventListener("click", function () {
        api("DELETE", "/api/v1/documents/" + documentId + "/shares/", { email: button.dataset.email })
          .then(function () { window.location.reload(); })
          .catch(function (error) { show(document.getElementById("share-error"), errorText(error)); });
      });
    });
  }
})();
