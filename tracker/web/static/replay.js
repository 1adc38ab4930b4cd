/* Trip replay on the route-compliance page: play, speed, a time slider, the list of fixes with their
 * flags, and "jump to" an alert, all moving one marker along the track.
 *
 * <div data-replay data-replay-map="<map element id>" data-track-url="..." data-time-zone="Asia/Bishkek"
 *      data-locale="ru" data-play-label data-pause-label data-empty-text data-error-text
 *      data-flag-words='{"frozen": "...", ...}' data-unlocated-text>
 *   <button id="replay-play"> <select id="replay-speed"> (times real time: 1 ... 60)
 *   <input type="range" id="replay-slider"> <output id="replay-time">
 * #replay-fixes (an <ol>) is filled with one button per fix; [data-replay-at] buttons (epoch seconds)
 * jump there (the alerts' starts).
 * The track is [[epoch seconds, lat, lon, flags, located], ...] in time order. The replay's time is
 * seconds since the first located fix (the slider shows it in whole seconds); the marker sits where the vehicle was at that time (between two
 * located fixes: on the straight line, in proportion). A fix that is not a location is listed, never
 * driven to. Loaded after Leaflet and before map.js: it hooks into the map's creation.
 * When ready the element gets data-replay-ready="true"; data-fix-index names the located fix at or
 * before the time, and the list's fix at or before it is marked aria-current.
 */
(function () {
  "use strict";

  var TICK_MS = 100;
  var maps = {};
  var waiting = {};

  if (typeof L !== "undefined" && L.Map && L.Map.addInitHook) {
    L.Map.addInitHook(function () {
      var id = this.getContainer().id;
      maps[id] = this;
      (waiting[id] || []).forEach(function (callback) { callback(maps[id]); });
    });
  }

  function withMap(id, callback) {
    if (maps[id]) { callback(maps[id]); return; }
    (waiting[id] = waiting[id] || []).push(callback);
  }

  /* Times as the portal shows them (tracker.web.i18n.when): 2026-11-23 17:51:00, 23.11.2026 17:51:00 (ru, ky). */
  function formatter(element) {
    var options = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
                    second: "2-digit", hourCycle: "h23", timeZone: element.getAttribute("data-time-zone") || "UTC" };
    var parts;
    try {
      parts = new Intl.DateTimeFormat("en-GB", options);
    } catch (error) {
      options.timeZone = "UTC";
      parts = new Intl.DateTimeFormat("en-GB", options);
    }
    var dotted = ["ru", "ky"].indexOf(element.getAttribute("data-locale")) >= 0;
    return function (date) {
      var p = {};
      parts.formatToParts(date).forEach(function (part) { p[part.type] = part.value; });
      var day = dotted ? p.day + "." + p.month + "." + p.year : p.year + "-" + p.month + "-" + p.day;
      return day + " " + p.hour + ":" + p.minute + ":" + p.second;
    };
  }

  /* The index of the last row at or before time t (rows in time order; the first if none). */
  function rowAt(rows, t) {
    var low = 0, high = rows.length - 1;
    while (low < high) {
      var middle = Math.ceil((low + high) / 2);
      if (rows[middle][0] <= t) { low = middle; } else { high = middle - 1; }
    }
    return low;
  }

  function placeAt(path, t) {
    var i = rowAt(path, t), a = path[i], b = path[Math.min(i + 1, path.length - 1)];
    var share = b[0] > a[0] ? Math.min(Math.max((t - a[0]) / (b[0] - a[0]), 0), 1) : 0;
    return { index: i, lat: a[1] + (b[1] - a[1]) * share, lon: a[2] + (b[2] - a[2]) * share };
  }

  function readWords(element) {
    try { return JSON.parse(element.getAttribute("data-flag-words") || "{}"); } catch (error) { return {}; }
  }

  /* The list of fixes: one button per fix, its time and its flags in words. */
  function listFixes(list, rows, format, words, unlocated, onPick) {
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row, i) {
      var item = document.createElement("li");
      var pick = document.createElement("button");
      pick.type = "button";
      pick.className = "replay-fix";
      pick.textContent = format(new Date(row[0] * 1000));
      pick.addEventListener("click", function () { onPick(row[0]); });
      item.appendChild(pick);
      var flags = (row[3] || []).map(function (flag) { return words[flag] || flag; });
      if (!row[4]) { flags.push(unlocated); item.className = "unlocated"; }
      if (flags.length) {
        var note = document.createElement("span");
        note.className = "replay-flags";
        note.textContent = flags.join("; ");
        item.appendChild(note);
        item.setAttribute("data-flags", (row[3] || []).join(" "));
      }
      item.setAttribute("data-index", String(i));
      fragment.appendChild(item);
    });
    list.appendChild(fragment);
  }

  function setUp(element) {
    var slider = element.querySelector("input[type=range]");
    var play = element.querySelector("#replay-play") || element.querySelector("button");
    var speed = element.querySelector("select");
    var output = element.querySelector("output");
    var list = document.getElementById("replay-fixes");
    var format = formatter(element);
    var rows = [], path = [], marker = null, timer = null, current = null;
    var position = 0;   // seconds since the first located fix (the slider shows whole seconds of it)

    function mark(t) {
      if (!list) { return; }
      var item = list.children[rowAt(rows, t)];
      if (item === current) { return; }
      if (current) { current.removeAttribute("aria-current"); }
      current = item;
      if (!item) { return; }
      item.setAttribute("aria-current", "true");
      // Keep the fix in view inside the list without scrolling the page.
      if (item.offsetTop < list.scrollTop || item.offsetTop > list.scrollTop + list.clientHeight - item.offsetHeight) {
        list.scrollTop = item.offsetTop - list.offsetTop - list.clientHeight / 2;
      }
    }

    function show() {
      if (!path.length) { return; }
      var t = path[0][0] + position;
      var place = placeAt(path, t);
      output.textContent = format(new Date(t * 1000));
      element.setAttribute("data-fix-index", String(place.index));
      if (marker) { marker.setLatLng([place.lat, place.lon]); }
      mark(t);
    }

    function stop() {
      if (timer !== null) { window.clearInterval(timer); timer = null; }
      play.textContent = element.getAttribute("data-play-label") || "Play";
      play.setAttribute("aria-pressed", "false");
    }

    function start() {
      var end = Number(slider.max);
      if (position >= end) { moveTo(0); }
      play.textContent = element.getAttribute("data-pause-label") || "Pause";
      play.setAttribute("aria-pressed", "true");
      timer = window.setInterval(function () {
        var step = Number(speed ? speed.value : 60) * TICK_MS / 1000;  // trip seconds per tick
        moveTo(Math.min(position + step, end));
        show();
        if (position >= end) { stop(); }
      }, TICK_MS);
    }

    function moveTo(seconds) {
      position = seconds;
      slider.value = String(Math.floor(seconds));
    }

    /* Put the replay at epoch time t (clamped to the trip), paused. */
    function jump(t) {
      stop();
      moveTo(Math.min(Math.max(t - path[0][0], 0), Number(slider.max)));
      show();
    }

    function ready(data) {
      rows = data || [];
      path = rows.filter(function (row) { return row[4] !== false; });
      if (!path.length) {
        output.textContent = element.getAttribute("data-empty-text") || "";
        element.setAttribute("data-replay-ready", "true");
        return;
      }
      slider.min = "0";
      slider.max = String(Math.max(0, Math.ceil(path[path.length - 1][0] - path[0][0])));
      slider.value = "0";
      [slider, play, speed].forEach(function (control) { if (control) { control.disabled = false; } });
      slider.addEventListener("input", function () { position = Number(slider.value); show(); });
      play.addEventListener("click", function () { if (timer === null) { start(); } else { stop(); } });
      if (list) {
        listFixes(list, rows, format, readWords(element), element.getAttribute("data-unlocated-text") || "", jump);
      }
      document.querySelectorAll("[data-replay-at]").forEach(function (button) {
        button.disabled = false;
        button.addEventListener("click", function () { jump(Number(button.getAttribute("data-replay-at"))); });
      });
      withMap(element.getAttribute("data-replay-map"), function (map) {
        marker = L.circleMarker([path[0][1], path[0][2]], { radius: 8, className: "replay-marker",
                                                            interactive: false }).addTo(map);
        show();
      });
      show();
      element.setAttribute("data-replay-ready", "true");
    }

    fetch(element.getAttribute("data-track-url"), { credentials: "same-origin",
                                                     headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(ready)
      .catch(function () {
        output.textContent = element.getAttribute("data-error-text") || "";
        element.setAttribute("data-replay-ready", "true");
      });
  }

  function begin() { document.querySelectorAll("[data-replay]").forEach(setUp); }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", begin);
  } else {
    begin();
  }
})();
