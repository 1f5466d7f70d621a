// A small, safe Markdown renderer for answers: everything is HTML-escaped FIRST, then a
// few Markdown forms become tags Theo writes itself (paragraphs, headings, lists, quotes,
// code, bold, italic, links, citation chips [n]). No HTML from the model or from documents
// can ever execute. Links the model writes go to http(s) addresses, shown with the host they
// really lead to, or to paths on this site; a link never looks like a citation chip.
// Browser only (window.TheoMarkdown); tests/chat/test_markdown_js.py runs it in Chromium.
(function (root) {
  "use strict";

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function unescapeHtml(text) {
    return String(text)
      .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&");
  }

  // Relative links are resolved against a stand-in origin: whatever leaves it is not relative.
  var HERE = "https://theo.invalid/here/";

  // {href, host} for a link the page may show, else null. `url` is HTML-escaped text.
  // Refused: other schemes (javascript:, data:, ...), protocol-relative //host, and any
  // backslash or control character (browsers read /\host as //host and drop tabs).
  function linkTarget(url) {
    var raw = unescapeHtml(url);
    if (!raw || /[\\\u0000-\u0020\u007f]/.test(raw)) return null;
    var parsed;
    try { parsed = new URL(raw, HERE); } catch (invalid) { return null; }
    if (/^https?:\/\//i.test(raw)) {
      if ((parsed.protocol !== "http:" && parsed.protocol !== "https:") || !parsed.hostname) return null;
      parsed.username = parsed.password = "";  // "https://trusted@evil/" goes to evil: say so
      return { href: parsed.href, host: parsed.host };
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(raw) || /^\/\//.test(raw) || parsed.origin !== new URL(HERE).origin) return null;
    return { href: raw, host: "" };
  }

  // A label of citation numbers ("1", "2, 3", "[4]") would pass for a chip: never a link.
  var CITATION_LIKE = /^\s*\[?\s*\d+(?:\s*,\s*\d+)*\s*\]?\s*$/;

  function link(label, url) {
    var target = linkTarget(url);
    if (!target || CITATION_LIKE.test(label.replace(/<[^>]*>/g, ""))) return label;
    var host = target.host ? ' <span class="link-host">(' + escapeHtml(target.host) + ")</span>" : "";
    return '<a class="link-out" href="' + escapeHtml(target.href) + '" rel="noopener noreferrer nofollow">' + label + host + "</a>";
  }

  function inline(text, citations) {
    var codes = [];
    var links = [];
    text = text.replace(/`([^`]+)`/g, function (_, code) { codes.push(code); return "\u0000" + (codes.length - 1) + "\u0000"; });
    text = text
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
      // Links are set aside until the chips are made, so no chip can end up inside one.
      .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, function (match, label, url) {
        links.push(link(label, url));
        return "\u0001" + (links.length - 1) + "\u0001";
      })
      .replace(/\[(\d+(?:\s*,\s*\d+)*)\]/g, function (_, numbers) {
        return numbers.split(",").map(function (n) { return chip(parseInt(n, 10), citations); }).join("");
      });
    text = text.replace(/\u0001(\d+)\u0001/g, function (_, i) { return links[+i]; });
    return text.replace(/\u0000(\d+)\u0000/g, function (_, i) { return "<code>" + codes[+i] + "</code>"; });
  }

  function chip(n, citations) {
    var item = (citations || {})[n];
    if (!item) return '<span class="cite pending">' + n + "</span>";
    var page = item.page_label || item.page_start; // the printed page ("xii") where the book has one
    var label = escapeHtml(item.reference || (item.title + (page ? ", p. " + page : "") + (item.section ? " — " + item.section : "")));
    var classes = "cite" + (item.verified ? "" : " unverified");
    var title = item.verified ? label : label + " (could not be verified)";
    // Citation URLs come from Theo, not the model: only paths on this site.
    var target = item.url ? linkTarget(escapeHtml(item.url)) : null;
    return target && !target.host
      ? '<a class="' + classes + '" href="' + escapeHtml(target.href) + '" title="' + title + '">' + n + "</a>"
      : '<span class="' + classes + '" title="' + title + '">' + n + "</span>";
  }

  function render(markdown, citationItems) {
    var citations = {};
    (citationItems || []).forEach(function (item) { citations[item.n] = item; });
    // \u0000 and \u0001 mark code and links set aside while a line is rendered.
    var lines = escapeHtml(String(markdown || "").replace(/[\u0000\u0001]/g, "")).split(/\r?\n/);
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

  root.TheoMarkdown = { render: render, escapeHtml: escapeHtml };
})(window);
