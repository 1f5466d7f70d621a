// A small, safe Markdown renderer for answers: everything is HTML-escaped FIRST, then a
// few Markdown forms become tags Theo writes itself (paragraphs, headings, lists, quotes,
// code, bold, italic, links to http(s) and same-site paths, citation chips [n]).
// No HTML from the model or from documents can ever execute. Works in the browser
// (window.TheoMarkdown) and in node (module.exports) for the tests.
(function (root) {
  "use strict";

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function safeUrl(url) {
    // `url` is already escaped; only web links and same-site paths survive.
    return /^(https?:\/\/|\/(?!\/))/i.test(url) ? url : null;
  }

  function inline(text, citations) {
    var codes = [];
    text = text.replace(/`([^`]+)`/g, function (_, code) { codes.push(code); return "\u0000" + (codes.length - 1) + "\u0000"; });
    text = text
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
      .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, function (match, label, url) {
        var safe = safeUrl(url);
        return safe ? '<a href="' + safe + '" rel="noopener noreferrer">' + label + "</a>" : label;
      })
      .replace(/\[(\d+(?:\s*,\s*\d+)*)\]/g, function (_, numbers) {
        return numbers.split(",").map(function (n) { return chip(parseInt(n, 10), citations); }).join("");
      });
    return text.replace(/\u0000(\d+)\u0000/g, function (_, i) { return "<code>" + codes[+i] + "</code>"; });
  }

  function chip(n, citations) {
    var item = (citations || {})[n];
    if (!item) return '<span class="cite pending">' + n + "</span>";
    var label = escapeHtml(item.reference || (item.title + (item.page_start ? ", p. " + item.page_start : "")));
    var classes = "cite" + (item.verified ? "" : " unverified");
    var title = item.verified ? label : label + " (could not be verified)";
    var url = item.url && safeUrl(escapeHtml(item.url));
    return url
      ? '<a class="' + classes + '" href="' + url + '" title="' + title + '">' + n + "</a>"
      : '<span class="' + classes + '" title="' + title + '">' + n + "</span>";
  }

  function render(markdown, citationItems) {
    var citations = {};
    (citationItems || []).forEach(function (item) { citations[item.n] = item; });
    var lines = escapeHtml(markdown || "").split(/\r?\n/);
    var html = [];
    var list = null;
    var paragraph = [];
    var inCode = false;
    var code = [];

    function flushParagraph() {
      if (paragraph.length) html.push("<p>" + inline(paragraph.join(" "), citations) + "</p>");
      paragraph = [];
    }
    function closeList() {
      if (list) html.push("</" + list + ">");
      list = null;
    }

    lines.forEach(function (line) {
      if (/^```/.test(line)) {
        if (inCode) { html.push("<pre><code>" + code.join("\n") + "</code></pre>"); code = []; }
        else { flushParagraph(); closeList(); }
        inCode = !inCode;
        return;
      }
      if (inCode) { code.push(line); return; }
      var heading = /^(#{1,4})\s+(.*)$/.exec(line);
      var bullet = /^\s*[-*]\s+(.*)$/.exec(line);
      var numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      var quote = /^&gt;\s?(.*)$/.exec(line);
      if (!line.trim()) { flushParagraph(); closeList(); return; }
      if (heading) {
        flushParagraph(); closeList();
        var level = Math.min(heading[1].length + 2, 6);
        html.push("<h" + level + ">" + inline(heading[2], citations) + "</h" + level + ">");
      } else if (bullet || numbered) {
        flushParagraph();
        var kind = bullet ? "ul" : "ol";
        if (list !== kind) { closeList(); html.push("<" + kind + ">"); list = kind; }
        html.push("<li>" + inline((bullet || numbered)[1], citations) + "</li>");
      } else if (quote) {
        flushParagraph(); closeList();
        html.push("<blockquote>" + inline(quote[1], citations) + "</blockquote>");
      } else {
        closeList();
        paragraph.push(line.trim());
      }
    });
    if (inCode) html.push("<pre><code>" + code.join("\n") + "</code></pre>");
    flushParagraph();
    closeList();
    return html.join("\n");
  }

  var api = { render: render, escapeHtml: escapeHtml };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.TheoMarkdown = api;
})(typeof window !== "undefined" ? window : this);
