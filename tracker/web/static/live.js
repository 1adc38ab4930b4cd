/* Live pages: an element with [data-live] follows the portal's server-sent events (GET /live) and
 * brings the page up to date, without a reload, when a fix, an alert step or a custody event arrives.
 *
 * data-live           the stream's URL (topic, declaration, since: the page's cursor)
 * data-live-refresh   a JSON list of CSS selectors: on a change the page is fetched again and each of
 *                     these parts is replaced by its new version (the words stay the server's, in the
 *                     user's language). A part holding a drawn map is not replaced: its inline data is,
 *                     and map.js redraws it (element.mercuryMap.refresh()) without moving the view.
 * data-live-maps      a selector of the maps to redraw on a change (default: every [data-map])
 * data-text-<state>   the words of each state: live, reconnecting, polling, stopped
 *
 * A tick rewrites every [data-live-as-of] ("As of ..."). Without EventSource, or when the stream is
 * refused or busy, the page is fetched every POLL_MS and the stream is tried again later.
 *
 * The header's bell (#bell) shows the unread count a "bell" event brings (every stream sends the
 * reader's own). A live page's stream carries it; on any other page the bell follows its own small
 * stream (data-live-bell, topic=notifications): never two streams on one page. When that stream is
 * busy, the browser tries it again after the server's retry time; when it is denied, it stops.
 */
(function () {
  "use strict";

  var POLL_MS = 10000;          // the fallback's period
  var STREAM_AGAIN_MS = 60000;  // how long the fallback runs before the stream is tried again
  var SETTLE_MS = 200;          // changes that come together cause one fetch
  var MIN_GAP_MS = 2000;        // and a busy road one fetch every two seconds at most

  function showBell(shown) {
    var bell = document.getElementById("bell");
    if (!bell) { return; }
    var count = bell.querySelector(".bell-count");
    bell.classList.toggle("unread", shown.unread > 0);
    bell.setAttribute("aria-label", shown.label);
    if (!shown.number) {
      if (count) { count.remove(); }
      return;
    }
    if (!count) {
      count = document.createElement("span");
      count.className = "bell-count";
      bell.appendChild(count);
    }
    count.textContent = shown.number;
  }

  function bellEvent(event) { showBell(JSON.parse(event.data)); }

  function followBell(bell) {
    if (typeof window.EventSource !== "function") { return; }
    var source = new EventSource(bell.getAttribute("data-live-bell"));
    source.addEventListener("bell", bellEvent);
    source.addEventListener("denied", function () { source.close(); });
  }

  function follow(holder) {
    var selectors = JSON.parse(holder.getAttribute("data-live-refresh") || "[]").concat(["#bell"]);
    var mapSelector = holder.getAttribute("data-live-maps") || "[data-map]";
    var source = null, poller = null, timer = null, busy = false, again = false, stopped = false, ending = false;
    var lastFetch = 0;

    function state(name) {
      holder.setAttribute("data-live-state", name);
      var text = holder.querySelector(".live-text");
      if (text) { text.textContent = holder.getAttribute("data-text-" + name) || name; }
    }

    function stop() {
      stopped = true;
      if (source) { source.close(); source = null; }
      clearInterval(poller);
      state("stopped");
    }

    function holdsMap(part) { return part.matches("[data-map]") || part.querySelector("[data-map]"); }

    // A fold the reader opened or closed stays so when its part is updated (matched by data-fold).
    function keepFolds(old, part) {
      old.querySelectorAll("details[data-fold]").forEach(function (was) {
        var key = was.getAttribute("data-fold");
        part.querySelectorAll("details[data-fold]").forEach(function (now) {
          if (now.getAttribute("data-fold") === key) { now.open = was.open; }
        });
      });
    }

    function replaceParts(fresh) {
      selectors.forEach(function (selector) {
        var old = document.querySelector(selector), next = fresh.querySelector(selector);
        if (!old || !next) { return; }
        if (holdsMap(old) && old.querySelector(".leaflet-container, [data-map-ready]")) { return; }
        var part = document.importNode(next, true);
        keepFolds(old, part);
        if (old.isEqualNode(part)) { return; }
        old.replaceWith(part);
        if (holdsMap(part) && window.MercuryMaps) {
          part.querySelectorAll("[data-map]").forEach(window.MercuryMaps.setUp);
        }
      });
    }

    function refreshMaps(fresh) {
      document.querySelectorAll(mapSelector).forEach(function (element) {
        var id = element.getAttribute("data-geojson");
        var old = id && document.getElementById(id), next = id && fresh.getElementById(id);
        if (old && next) { old.textContent = next.textContent; }
        if (element.mercuryMap) { element.mercuryMap.refresh(); }
      });
    }

    function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      lastFetch = Date.now();
      // X-Mercury-Live: the page updating itself is not the user at work (the session may still time out)
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html", "X-Mercury-Live": "1" } })
        .then(function (response) {
          if (response.redirected || response.status === 401 || response.status === 403) { stop(); return null; }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html === null || stopped) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html");
          replaceParts(fresh);
          refreshMaps(fresh);
          holder.setAttribute("data-live-updated", new Date().toISOString());
        })
        .catch(function () { /* offline for a moment: the next change or poll tries again */ })
        .then(function () {
          busy = false;
          if (again) { again = false; soon(); }
        });
    }

    function soon() {
      if (timer) { return; }  // a fetch is already due: it will bring this change too
      var wait = Math.max(SETTLE_MS, lastFetch + MIN_GAP_MS - Date.now());
      timer = setTimeout(function () { timer = null; refresh(); }, wait);
    }

    function asOf(text) {
      document.querySelectorAll("[data-live-as-of]").forEach(function (element) { element.textContent = text; });
    }

    function poll() {
      if (stopped) { return; }
      state("polling");
      clearInterval(poller);
      poller = setInterval(refresh, POLL_MS);
      setTimeout(function () { clearInterval(poller); connect(); }, STREAM_AGAIN_MS);
    }

    function connect() {
      if (stopped) { return; }
      if (typeof window.EventSource !== "function") { poll(); return; }
      source = new EventSource(holder.getAttribute("data-live"));
      source.addEventListener("open", function () { ending = false; state("live"); });
      source.addEventListener("tick", function (event) {
        state("live");
        asOf(JSON.parse(event.data).as_of);
      });
      source.addEventListener("change", function () { state("live"); soon(); });
      source.addEventListener("bell", bellEvent);
      source.addEventListener("denied", stop);
      source.addEventListener("busy", function () { source.close(); source = null; poll(); });
      source.addEventListener("end", function () { ending = true; });  // the browser reconnects by itself
      source.addEventListener("error", function () {
        if (!source) { return; }
        if (source.readyState === EventSource.CLOSED) {
          source = null;
          poll();
        } else if (!ending) {
          state("reconnecting");
        }
      });
    }

    connect();
  }

  function start() {
    var holders = document.querySelectorAll("[data-live]"), bell = document.querySelector("#bell[data-live-bell]");
    holders.forEach(follow);
    if (!holders.length && bell) { followBell(bell); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
