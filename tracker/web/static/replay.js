/* Trip replay on the route-compliance page: a time slider and a play button move a marker along the track.
 *
 * <div data-replay data-replay-map="<map element id>" data-track-url="..." data-time-zone="Asia/Bishkek"
 *      data-locale="ru" data-play-label data-pause-label data-empty-text data-error-text>
 *   <button id="replay-play"> <input type="range" id="replay-slider"> <output id="replay-time">
 * The track is [[epoch seconds, lat, lon], ...] in time order. The slider's value is seconds since the
 * first fix; the marker sits where the vehicle was at that time (between two fixes: on the straight
 * line, in proportion). Loaded after Leaflet and before map.js: it hooks into the map's creation.
 * When ready the element gets data-replay-ready="true"; data-fix-index names the fix at or before the time.
 */
(function () {
  "use strict";

  var PLAY_SECONDS = 30;      // a whole trip plays in about this long
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

  /* Times as the portal shows them (tracker.web.i18n.when): 2026-11-23 17:51:00, 23.11.2026 17:51:00 (ru). */
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
    var russian = element.getAttribute("data-locale") !== "en";  /* ru, ky: 25.11.2026 */
    return function (date) {
      var p = {};
      parts.formatToParts(date).forEach(function (part) { p[part.type] = part.value; });
      var day = russian ? p.day + "." + p.month + "." + p.year : p.year + "-" + p.month + "-" + p.day;
      return day + " " + p.hour + ":" + p.minute + ":" + p.second;
    };
  }

  /* The index of the last fix at or before time t (the track is in time order). */
  function fixAt(track, t) {
    var low = 0, high = track.length - 1;
    while (low < high) {
      var middle = Math.ceil((low + high) / 2);
      if (track[middle][0] <= t) { low = middle; } else { high = middle - 1; }
    }
    return low;
  }

  function placeAt(track, t) {
    var i = fixAt(track, t), a = track[i], b = track[Math.min(i + 1, track.length - 1)];
    var share = b[0] > a[0] ? Math.min(Math.max((t - a[0]) / (b[0] - a[0]), 0), 1) : 0;
    return { index: i, lat: a[1] + (b[1] - a[1]) * share, lon: a[2] + (b[2] - a[2]) * share };
  }

  function setUp(element) {
    var slider = element.querySelector("input[type=range]");
    var play = element.querySelector("button");
    var output = element.querySelector("output");
    var format = formatter(element);
    var track = [], marker = null, timer = null;

    function show() {
      if (!track.length) { return; }
      var t = track[0][0] + Number(slider.value);
      var place = placeAt(track, t);
      output.textContent = format(new Date(t * 1000));
      element.setAttribute("data-fix-index", String(place.index));
      if (marker) { marker.setLatLng([place.lat, place.lon]); }
    }

    function stop() {
      if (timer !== null) { window.clearInterval(timer); timer = null; }
      play.textContent = element.getAttribute("data-play-label") || "Play";
      play.setAttribute("aria-pressed", "false");
    }

    function start() {
      var end = Number(slider.max);
      if (Number(slider.value) >= end) { slider.value = "0"; }
      var step = Math.max(1, Math.round(end / (PLAY_SECONDS * 1000 / TICK_MS)));
      play.textContent = element.getAttribute("data-pause-label") || "Pause";
      play.setAttribute("aria-pressed", "true");
      timer = window.setInterval(function () {
        slider.value = String(Math.min(Number(slider.value) + step, end));
        show();
        if (Number(slider.value) >= end) { stop(); }
      }, TICK_MS);
    }

    function ready(data) {
      track = data || [];
      if (!track.length) {
        output.textContent = element.getAttribute("data-empty-text") || "";
        element.setAttribute("data-replay-ready", "true");
        return;
      }
      slider.min = "0";
      slider.max = String(Math.max(0, Math.ceil(track[track.length - 1][0] - track[0][0])));
      slider.value = "0";
      slider.disabled = false;
      play.disabled = false;
      slider.addEventListener("input", function () { show(); });
      play.addEventListener("click", function () { if (timer === null) { start(); } else { stop(); } });
      withMap(element.getAttribute("data-replay-map"), function (map) {
        marker = L.circleMarker([track[0][1], track[0][2]], { radius: 8, className: "replay-marker",
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
