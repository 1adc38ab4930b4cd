/* The officer's scan pages.
 * Scan: a photo chosen or taken is posted at once to the API (POST /api/v1/scans, multipart field
 * "photo"); one container opens its page, several open one page with one form for all of them,
 * a refusal is shown beside the field.
 * Without this script the same form posts to the portal, which does the same on the server (and
 * says why a photo is refused in the page's language: a refused photo is sent there too).
 * A failed read (refused, no answer in time, no network) never leaves "Reading the label…": the hint
 * comes back with advice on taking a better photo.
 * Confirm: the one button names the kind of event chosen, and a second tap is ignored.
 */
(function () {
  "use strict";

  var PHOTO_TIMEOUT_MS = 60000;  // a 12 MB photo over a slow mobile network, with room to spare

  function resultUrl(form, sscc, digest) {
    return form.dataset.result.replace("__SSCC__", encodeURIComponent(sscc)) +
      "?photo=" + encodeURIComponent(digest);
  }

  function showError(form, text) {
    var error = document.getElementById("photo-error");
    var field = error.closest(".field");
    error.textContent = text;
    field.classList.toggle("has-error", Boolean(text));
    document.getElementById("photo").setAttribute("aria-invalid", text ? "true" : "false");
  }

  function refusal(form, body) {
    var reason = body && body.fields && body.fields.photo ? body.fields.photo : (body && body.message) || "";
    return form.dataset.failed.replace("__REASON__", reason);
  }

  function sendPhoto(form) {
    var input = document.getElementById("photo");
    var button = document.getElementById("read-photo");
    if (form.dataset.sending === "yes" || !input.files.length) {
      return;
    }
    if (input.files[0].size > Number(form.dataset.maxBytes)) {
      showError(form, form.dataset.tooBig);
      return;
    }
    var data = new FormData();
    data.append("photo", input.files[0]);
    form.dataset.sending = "yes";
    button.disabled = true;
    showError(form, "");
    form.setAttribute("aria-busy", "true");
    hint(form.dataset.busy, "");
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller && setTimeout(function () { controller.abort(); }, PHOTO_TIMEOUT_MS);
    fetch(form.dataset.api, {method: "POST", body: data, credentials: "same-origin",
                             signal: controller && controller.signal, headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.status === 422 && document.documentElement.lang !== "en") {
            // The API explains in English; the portal's own form gives the reason in the page's language.
            form.submit();
            return;
          }
          if (!response.ok) {
            throw new Error(refusal(form, body));
          }
          if (body.containers.length === 1) {
            window.location.assign(resultUrl(form, body.containers[0].sscc, body.photo_digest));
            return;
          }
          // Several labels: one page and one confirm form for all of them.
          window.location.assign(form.dataset.photos.replace("__DIGEST__", encodeURIComponent(body.photo_digest)) +
            "?" + body.containers.map(function (c) { return "sscc=" + encodeURIComponent(c.sscc); }).join("&"));
        });
      })
      .catch(function (error) {
        var why = error && error.name === "AbortError" ? form.dataset.late
          : (error instanceof TypeError ? form.dataset.offline : error.message);
        showError(form, why);
        finish(form, button);
      })
      .finally(function () { clearTimeout(timer); });
  }

  function hint(text, kind) {
    var element = document.getElementById("photo-hint");
    element.textContent = text;
    element.className = "hint" + (kind ? " " + kind : "");
  }

  function finish(form, button) {
    // The busy words go; the hint says how to take a photo that reads.
    form.dataset.sending = "";
    form.removeAttribute("aria-busy");
    button.disabled = false;
    hint(form.dataset.advice, "advice");
  }

  function initScan(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sendPhoto(form);
    });
    document.getElementById("photo").addEventListener("change", function () {
      sendPhoto(form);
    });
  }

  function reportPosition() {
    // The phone's position goes with the event, where the officer's browser allows it: the tracker
    // compares it with the beacon's (a beacon moved to another truck). Without it, the checkpoint's.
    var lat = document.getElementById("phone-lat");
    var lon = document.getElementById("phone-lon");
    if (!lat || !lon || lat.value || !navigator.geolocation) {
      return;
    }
    navigator.geolocation.getCurrentPosition(function (where) {
      lat.value = where.coords.latitude.toFixed(6);
      lon.value = where.coords.longitude.toFixed(6);
    }, function () { /* refused or unavailable: the checkpoint's position is used */ },
    {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
  }

  function initConfirm(form) {
    var button = document.getElementById("confirm");
    reportPosition();
    form.addEventListener("change", function (event) {
      if (event.target.name === "kind" && event.target.dataset.confirm) {
        button.textContent = event.target.dataset.confirm;
      }
    });
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent === "yes") {
        event.preventDefault();  // the server would record it once anyway; spare the second request
        return;
      }
      form.dataset.sent = "yes";
      button.setAttribute("aria-disabled", "true");
    });
  }

  var scan = document.getElementById("photo-form");
  if (scan) {
    initScan(scan);
  }
  var confirm = document.getElementById("custody-form");
  if (confirm) {
    initConfirm(confirm);
  }
}());
