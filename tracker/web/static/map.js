/* The portal's maps: every element with [data-map] becomes a Leaflet map (the app's own copy).
 *
 * data-geojson-url   a FeatureCollection fetched from the app (same origin)
 * data-geojson       the id of a <script type="application/json"> holding one
 * data-tiles         base tile URL ({z}/{x}/{y}); without it: the offline base map
 * data-attribution   the tiles' attribution
 * data-basemap-url   the offline base map (countries, Kyrgyzstan's regions; properties name, name_<lang>),
 *                    drawn on a canvas when there are no tiles; data-basemap-attribution credits it
 * data-zoom-in, data-zoom-out, data-scale-m, data-scale-km: Leaflet's words, translated ("{n} km")
 * data-pick-into     the id of a textarea of "lat, lon" lines: a click on the map appends one
 *                    (data-undo-label, data-clear-label, data-pick-hint: the words, translated);
 *                    a click on a checkpoint appends the checkpoint's own coordinates
 *
 * Each feature's properties.layer picks its style and its DOM hook: paths get the class
 * "layer-<layer>", points become markers with the class "marker-<layer>". properties.label
 * (else .name) and properties.text (lines) fill its popup; properties.url adds a link (properties.link_text).
 * When everything is drawn the element gets data-map-ready="true" and data-layers (the layers drawn),
 * and data-basemap: "tiles", "offline" (with data-basemap-regions, how many) or "none".
 */
(function () {
  "use strict";

  var KYRGYZSTAN = [[39.2, 69.2], [43.3, 80.3]];
  // A checkpoint's square is larger than the custody dot drawn on it, so both stay visible.
  var MARKER_SIZE = { alert: 20, custody: 14, checkpoint: 22, pick: 10 };
  var MARKER_LEVEL = { checkpoint: -1000, alert: 1000 };

  /* ---- audit pages (Now, Flows): a line's width from properties.weight (pixels), a marker's
   * age class from properties.age ("age-fresh", "age-stale", ...). Nothing else reads these. ---- */
  var audit = {
    weighted: function (p, options) {
      if (typeof p.weight === "number" && p.weight > 0) { options.weight = p.weight; }
      return options;
    },
    markerClasses: function (p) { return p.age ? " age-" + p.age : ""; }
  };

  function layerKey(properties) {
    var layer = properties.layer || "other";
    return layer === "zone" && properties.kind ? "zone-" + properties.kind : layer;
  }

  function pathOptions(feature) {
    var p = feature.properties || {};
    var classes = "layer-" + (p.layer || "other");
    if (p.layer === "zone" && p.kind) { classes += " zone-" + p.kind; }
    // Colours live in map.css; Leaflet's own defaults are overridden there by the classes.
    return audit.weighted(p, { className: classes, interactive: true });
  }

  function marker(feature, latlng) {
    var p = feature.properties || {};
    var layer = p.layer || "other";
    var size = MARKER_SIZE[layer] || 12;
    var classes = "map-marker marker-" + layer;
    if (p.severity) { classes += " severity-" + p.severity; }
    if (p.kind) { classes += " kind-" + p.kind; }
    classes += audit.markerClasses(p);
    var icon = L.divIcon({ className: classes, iconSize: [size, size], iconAnchor: [size / 2, size / 2],
                           popupAnchor: [0, -size / 2] });
    return L.marker(latlng, { icon: icon, title: title(p), alt: title(p), keyboard: true,
                              riseOnHover: true, zIndexOffset: MARKER_LEVEL[layer] || 0 });
  }

  function title(p) { return p.label || p.name || ""; }

  function popupContent(p) {
    var box = document.createElement("div");
    if (title(p)) {
      var heading = document.createElement("span");
      heading.className = "popup-title";
      heading.textContent = title(p);
      box.appendChild(heading);
    }
    (p.text || []).forEach(function (line) {
      var span = document.createElement("span");
      span.className = "popup-line";
      span.textContent = line;
      box.appendChild(span);
    });
    if (p.url) {
      var link = document.createElement("a");
      link.href = p.url;
      link.textContent = p.link_text || p.url;
      box.appendChild(link);
    }
    return box;
  }

  function onEach(feature, layer, pick) {
    var p = feature.properties || {};
    if (pick && p.layer === "checkpoint" && feature.geometry && feature.geometry.type === "Point") {
      // Drawing a route: a checkpoint is a waypoint at its exact place, not a popup.
      var at = feature.geometry.coordinates;
      layer.on("click", function () { pick(at[1], at[0]); });
      return;
    }
    if (title(p) || (p.text && p.text.length)) { layer.bindPopup(popupContent(p), { maxWidth: 340 }); }
  }

  // Name the checkpoints on the map itself when there are few (a route's, not the whole country's).
  var NAMED_CHECKPOINTS = 12;

  function nameCheckpoints(group) {
    var checkpoints = [];
    group.eachLayer(function (collection) {
      collection.eachLayer(function (layer) {
        var p = (layer.feature && layer.feature.properties) || {};
        if (p.layer === "checkpoint" && (p.code || p.name)) { checkpoints.push([layer, p.code || p.name]); }
      });
    });
    if (checkpoints.length > NAMED_CHECKPOINTS) { return; }
    checkpoints.forEach(function (pair) {
      var text = document.createElement("span");
      text.textContent = pair[1];  // never as HTML: names are typed in by people
      pair[0].bindTooltip(text, { permanent: true, direction: "right", offset: [10, 0], className: "map-name" });
    });
  }

  /* ---- the base map: tiles from MAP_TILE_URL, else the offline one (countries and Kyrgyzstan's
   * regions from Natural Earth, vendor/basemap) drawn on a canvas under everything else ---- */
  function baseLayer(map, element) {
    var url = element.getAttribute("data-tiles");
    if (!url) {
      element.classList.add("no-tiles");
      return offlineBase(map, element);
    }
    var tiles = L.tileLayer(url, { attribution: element.getAttribute("data-attribution") || "", maxZoom: 19 });
    // Offline, the tiles fail: the plain background shows through and the layers still draw.
    tiles.on("tileerror", function () { element.classList.add("no-tiles"); });
    tiles.addTo(map);
    element.setAttribute("data-basemap", "tiles");
    return Promise.resolve();
  }

  function placeName(p, language) { return p["name_" + language] || p.name || ""; }

  function baseLabel(map, at, text, kind) {
    var span = document.createElement("span");
    span.textContent = text;  // never as HTML
    var icon = L.divIcon({ className: "basemap-label basemap-" + kind, html: span, iconSize: null });
    L.marker([at[1], at[0]], { icon: icon, pane: "basemap-labels", interactive: false, keyboard: false })
      .addTo(map);
  }

  function drawBase(map, element, collection) {
    var language = document.documentElement.lang || "en";
    var renderer = L.canvas({ pane: "basemap", padding: 0.2 });
    var regions = 0;
    L.geoJSON(collection, {
      renderer: renderer, interactive: false,
      style: function (feature) {
        var p = feature.properties;
        return p.layer === "region" ? BASE_STYLE.region : p.code === "KGZ" ? BASE_STYLE.country : BASE_STYLE.abroad;
      },
      onEachFeature: function (feature) {
        var p = feature.properties;
        if (p.layer === "region") { regions += 1; }
        if (p.label && (p.layer === "region" || p.code !== "KGZ")) {
          baseLabel(map, p.label, placeName(p, language), p.layer);
        }
      }
    }).addTo(map);
    map.attributionControl.addAttribution(element.getAttribute("data-basemap-attribution") || "Natural Earth");
    element.setAttribute("data-basemap", "offline");
    element.setAttribute("data-basemap-regions", String(regions));
  }

  // Land, borders and regions in quiet colours: the declarations' own layers stay in front.
  var BASE_STYLE = {
    country: { color: "#8a8170", weight: 1.2, fillColor: "#f7f4ec", fillOpacity: 1 },
    abroad: { color: "#8a8170", weight: 1.2, fillColor: "#e6e1d6", fillOpacity: 1 },
    region: { color: "#b3aa96", weight: 0.8, dashArray: "4 3", fill: false }
  };

  function offlineBase(map, element) {
    var url = element.getAttribute("data-basemap-url");
    if (!url) { return Promise.resolve(); }
    map.createPane("basemap").style.zIndex = 250;
    map.createPane("basemap-labels").style.zIndex = 350;
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (collection) { drawBase(map, element, collection); })
      .catch(function () { element.setAttribute("data-basemap", "none"); });
  }

  /* Leaflet's controls in the page's language: the template passes the words. */
  function controls(map, element) {
    L.control.zoom({ zoomInTitle: element.getAttribute("data-zoom-in") || "Zoom in",
                     zoomOutTitle: element.getAttribute("data-zoom-out") || "Zoom out" }).addTo(map);
    var metres = element.getAttribute("data-scale-m") || "{n} m";
    var kilometres = element.getAttribute("data-scale-km") || "{n} km";
    var Scale = L.Control.Scale.extend({
      _updateMetric: function (maxMeters) {
        var meters = this._getRoundNum(maxMeters);
        var label = meters < 1000 ? metres.replace("{n}", meters) : kilometres.replace("{n}", meters / 1000);
        this._updateScale(this._mScale, label, meters / maxMeters);
      }
    });
    new Scale({ imperial: false }).addTo(map);
  }

  function readInline(element) {
    var id = element.getAttribute("data-geojson");
    if (!id) { return Promise.resolve(null); }
    var holder = document.getElementById(id);
    return Promise.resolve(holder ? JSON.parse(holder.textContent) : null);
  }

  function readRemote(element) {
    var url = element.getAttribute("data-geojson-url");
    if (!url) { return Promise.resolve(null); }
    // X-Mercury-Live: fetching map data is not a sign of the user at work (see live.js)
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json, application/json", "X-Mercury-Live": "1" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
  }

  function showError(element) {
    var message = document.createElement("p");
    message.className = "map-error";
    message.setAttribute("role", "alert");
    message.textContent = element.getAttribute("data-error-text") || "The map data could not be loaded.";
    element.insertAdjacentElement("afterend", message);
  }

  function markLegend(element, drawn) {
    var figure = element.closest("figure") || element.parentNode;
    figure.querySelectorAll("[data-legend]").forEach(function (item) {
      var key = item.getAttribute("data-legend");
      item.classList.toggle("absent", key !== "pick" && !drawn[key]);
    });
  }

  function draw(map, element, collections, pick) {
    var group = L.featureGroup().addTo(map);
    var drawn = {};
    collections.forEach(function (collection) {
      if (!collection) { return; }
      // Polygons first, then lines (the planned route's dashes over the track), then points.
      var order = { zone: 0, corridor: 1, track: 2, route: 3 };
      var features = (collection.features || []).slice().sort(function (a, b) {
        var ka = order[(a.properties || {}).layer], kb = order[(b.properties || {}).layer];
        return (ka === undefined ? 9 : ka) - (kb === undefined ? 9 : kb);
      });
      features.forEach(function (feature) { drawn[layerKey(feature.properties || {})] = true; });
      L.geoJSON({ type: "FeatureCollection", features: features },
                { style: pathOptions, pointToLayer: marker, onEachFeature: function (f, l) { onEach(f, l, pick); } })
        .addTo(group);
    });
    nameCheckpoints(group);
    markLegend(element, drawn);
    element.setAttribute("data-layers", Object.keys(drawn).sort().join(" "));
    return group;
  }

  // Without animation: the map is where it will stay once it says it is ready (a click, a
  // reader's or a test's, lands on what it aims at, however slow the machine).
  function fitTo(map, bounds) {
    if (!bounds || !bounds.isValid()) {
      map.fitBounds(KYRGYZSTAN, { animate: false });
    } else if (bounds.getNorthEast().equals(bounds.getSouthWest())) {
      map.setView(bounds.getCenter(), 9, { animate: false });  // one point: the country around it, not a street
    } else {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15, animate: false });
    }
  }

  function fit(map, group, extra) {
    var bounds = group.getBounds();
    if (extra && extra.isValid()) { bounds = bounds.isValid() ? bounds.extend(extra) : extra; }
    fitTo(map, bounds);
  }

  /* ---- pick mode: clicks fill a textarea of "lat, lon" lines (the trader's route step) ---- */
  var POINT = /^\s*(-?\d+(?:[.,]\d+)?)\s*[,;\s]\s*(-?\d+(?:[.,]\d+)?)\s*$/;

  function parsePoints(text) {
    var points = [];
    text.split(/\r?\n/).forEach(function (line) {
      var match = POINT.exec(line);
      if (!match) { return; }
      var lat = parseFloat(match[1].replace(",", ".")), lon = parseFloat(match[2].replace(",", "."));
      if (lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) { points.push([lat, lon]); }
    });
    return points;
  }

  function button(text, id) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.id = id;
    b.textContent = text;
    return b;
  }

  function pickMode(map, element, area) {
    var layer = L.layerGroup().addTo(map);
    function redraw() {
      layer.clearLayers();
      var points = parsePoints(area.value);
      if (points.length > 1) { L.polyline(points, { className: "layer-pick", interactive: false }).addTo(layer); }
      points.forEach(function (point, i) {
        marker({ properties: { layer: "pick", label: (i + 1) + ": " + point[0].toFixed(6) + ", " + point[1].toFixed(6) } },
               point).addTo(layer);
      });
      return points;
    }
    function write(lines) {
      area.value = lines.join("\n") + (lines.length ? "\n" : "");
      area.dispatchEvent(new Event("input", { bubbles: true }));
    }
    function lines() { return area.value.split(/\r?\n/).filter(function (l) { return l.trim() !== ""; }); }

    function add(lat, lon) { write(lines().concat([lat.toFixed(6) + ", " + lon.toFixed(6)])); }
    map.on("click", function (event) {
      var latlng = event.latlng.wrap();
      add(latlng.lat, latlng.lng);
    });
    area.addEventListener("input", function (event) {
      var points = redraw();
      // Typed or pasted by the user (not our own click): show the whole line again.
      if (event.isTrusted && points.length) { fitTo(map, L.latLngBounds(points)); }
    });

    var tools = document.createElement("div");
    tools.className = "map-tools";
    var undo = button(element.getAttribute("data-undo-label") || "Undo last point", element.id + "-undo");
    var clear = button(element.getAttribute("data-clear-label") || "Clear", element.id + "-clear");
    undo.addEventListener("click", function () { write(lines().slice(0, -1)); });
    clear.addEventListener("click", function () { write([]); });
    tools.appendChild(undo);
    tools.appendChild(clear);
    if (element.getAttribute("data-pick-hint")) {
      var hint = document.createElement("p");
      hint.className = "hint";
      hint.textContent = element.getAttribute("data-pick-hint");
      tools.appendChild(hint);
    }
    element.insertAdjacentElement("afterend", tools);
    element.classList.add("pick-mode");
    var points = redraw();
    return { bounds: points.length ? L.latLngBounds(points) : null, add: add };
  }

  /* ---- live pages (static/live.js): element.mercuryMap.refresh() reads the map's data again
   * (the inline JSON as the page holds it now, the URL anew) and redraws it without moving the view. ---- */
  function liveHook(map, element, group) {
    element.mercuryMap = {
      refresh: function () {
        return Promise.all([readInline(element), readRemote(element)]).then(function (collections) {
          map.removeLayer(group);
          group = draw(map, element, collections);
        });
      }
    };
    element.dispatchEvent(new CustomEvent("map:drawn", { bubbles: true }));
  }

  function setUp(element) {
    if (!element.id) { element.id = "map-" + Math.random().toString(36).slice(2, 8); }
    var map = L.map(element, { preferCanvas: false, scrollWheelZoom: false, zoomControl: false });
    var based = baseLayer(map, element);
    controls(map, element);
    map.fitBounds(KYRGYZSTAN);
    map.once("focus", function () { map.scrollWheelZoom.enable(); });

    var area = element.getAttribute("data-pick-into") &&
      document.getElementById(element.getAttribute("data-pick-into"));
    var pick = area ? pickMode(map, element, area) : null;
    var picked = pick ? pick.bounds : null;

    Promise.all([readInline(element), readRemote(element), based])
      .then(function (collections) {
        var group = draw(map, element, collections.slice(0, 2), pick && pick.add);
        fit(map, group, picked);
        liveHook(map, element, group);
      })
      .catch(function () {
        showError(element);
        fitTo(map, picked);
      })
      .then(function () { element.setAttribute("data-map-ready", "true"); });
  }

  function start() {
    if (typeof L === "undefined") { return; }
    window.MercuryMaps = { setUp: setUp };  // live.js sets up a map that a live update brings in
    document.querySelectorAll("[data-map]").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
