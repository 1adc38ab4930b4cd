/* The officer's live viewfinder: the phone's rear camera, read continuously in the browser.
 * zxing-wasm (served by the portal, vendor/zxing-wasm) decodes GS1-128, Data Matrix and QR codes from
 * the video; the codes' text goes to POST /api/v1/scans/codes, where the tracker judges it by the same
 * GS1 rules as a photo's codes and answers with the containers, their declarations and how many of
 * each declaration's containers are scanned. A read beeps and vibrates; the same code is read once
 * while it stays in view and again only after a few seconds away. Without a camera, permission or
 * the decoder, the section stays hidden or says so, and the photo form below is the way.
 */
(function () {
  "use strict";

  var READ_EVERY_MS = 150;        // pause between two decodes of the video
  var SAME_CODE_MS = 4000;        // a code seen again within this time is the same read
  var ADVICE_AFTER_MS = 8000;     // no read for this long: say how to hold the phone
  var ANSWER_TIMEOUT_MS = 15000;  // the tracker's answer to a read
  var FORMATS = ["Code128", "DataMatrix", "QRCode"];
  var box = document.getElementById("viewfinder");
  var state = {stream: null, seen: {}, answered: {}, read: [], declarations: {}, lastRead: 0, running: false};

  function say(text, kind) {
    var status = document.getElementById("viewfinder-status");
    status.textContent = text;
    status.className = "hint" + (kind ? " " + kind : "");
  }

  function beep(good) {
    // A short high tone for a container read, two low ones for a refused code; a buzz where phones vibrate.
    try {
      var audio = beep.audio || (beep.audio = new (window.AudioContext || window.webkitAudioContext)());
      (good ? [0] : [0, 0.18]).forEach(function (at) {
        var tone = audio.createOscillator();
        var gain = audio.createGain();
        tone.frequency.value = good ? 1760 : 440;
        gain.gain.value = 0.2;
        tone.connect(gain).connect(audio.destination);
        tone.start(audio.currentTime + at);
        tone.stop(audio.currentTime + at + 0.12);
      });
    } catch (ignored) { /* no sound on this browser: the list still shows the read */ }
    if (navigator.vibrate) {
      navigator.vibrate(good ? 80 : [60, 60, 60]);
    }
  }

  function fresh(codes) {
    // Codes not seen in the last few seconds; every code in view is marked seen again.
    var now = Date.now();
    return codes.filter(function (code) {
      var last = state.seen[code.text];
      state.seen[code.text] = now;
      return !(last && now - last < SAME_CODE_MS) && !state.answered[code.text];
    });
  }

  function askTracker(codes) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller && setTimeout(function () { controller.abort(); }, ANSWER_TIMEOUT_MS);
    return fetch(box.dataset.api, {
      method: "POST", credentials: "same-origin", signal: controller && controller.signal,
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify({codes: codes})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return {ok: response.ok, status: response.status, body: body};
      });
    }).finally(function () { clearTimeout(timer); });
  }

  function handle(codes) {
    askTracker(codes).then(function (answer) {
      if (!answer.ok) {
        beep(false);
        codes.forEach(function (code) { state.answered[code.text] = true; });
        say(box.dataset.refused.replace("__CODE__", codes.map(function (c) { return c.text; }).join(", ")), "bad");
        return;
      }
      beep(true);
      codes.forEach(function (code) { state.answered[code.text] = true; });
      answer.body.loading.forEach(function (l) { state.declarations[l.declaration_id] = l; });
      answer.body.containers.forEach(remember);
      show();
    }).catch(function () {
      codes.forEach(function (code) { delete state.seen[code.text]; });  // read again when the tracker answers
      say(box.dataset.offline, "bad");
    });
  }

  function remember(container) {
    if (state.read.some(function (c) { return c.sscc === container.sscc; })) {
      return;
    }
    state.read.push(container);
    state.lastRead = Date.now();
  }

  function show() {
    var list = document.getElementById("read-list");
    list.textContent = "";
    state.read.slice().reverse().forEach(function (c) {
      var item = document.createElement("li");
      var verdict = c.expected_here ? "yes" : (c.custody_check && c.custody_check.verdict === "allowed_with_alert" ? "alert" : "no");
      item.className = "read " + verdict;
      item.innerHTML = '<span class="mono"></span> <span class="expected ' + verdict + '"></span> <small></small>';
      item.children[0].textContent = c.sscc;
      item.children[1].textContent = box.dataset[verdict];
      item.children[2].textContent = c.declaration ? c.declaration.reference : box.dataset.noDeclaration;
      list.appendChild(item);
    });
    showProgress();
    var link = document.getElementById("record-read-link");
    link.href = box.dataset.labels + "?" + state.read.map(function (c) { return "sscc=" + encodeURIComponent(c.sscc); }).join("&");
    document.getElementById("record-read").hidden = false;
    say(box.dataset.looking);
  }

  function showProgress() {
    // "3 of 10 scanned": containers departed already or read here now, of the declaration's containers.
    var progress = document.getElementById("progress");
    progress.textContent = "";
    state.read.forEach(function (c) {
      var d = c.declaration;
      var l = d && state.declarations[d.id];
      if (!l || progress.querySelector('[data-declaration="' + d.id + '"]')) {
        return;
      }
      var done = {};
      l.departed.forEach(function (sscc) { done[sscc] = true; });
      state.read.forEach(function (r) { if (r.declaration && r.declaration.id === d.id) { done[r.sscc] = true; } });
      var item = document.createElement("li");
      item.dataset.declaration = d.id;
      item.className = "loading";
      item.textContent = d.reference + ": " + box.dataset.count.replace("__SCANNED__", Object.keys(done).length)
        .replace("__TOTAL__", l.total);
      progress.appendChild(item);
    });
  }

  function codesIn(results) {
    return results.filter(function (r) { return r.isValid && r.text; }).map(function (r) {
      return {text: r.text, format: r.format, symbology_identifier: r.symbologyIdentifier || ""};
    });
  }

  function readFrame(video, canvas) {
    if (!state.running) {
      return;
    }
    var next = function () { setTimeout(function () { readFrame(video, canvas); }, READ_EVERY_MS); };
    if (video.readyState < 2 || !video.videoWidth) {
      next();
      return;
    }
    var scale = Math.min(1, 1280 / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    var context = canvas.getContext("2d", {willReadFrequently: true});
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    ZXingWASM.readBarcodes(context.getImageData(0, 0, canvas.width, canvas.height),
                           {formats: FORMATS, tryHarder: true, maxNumberOfSymbols: 8})
      .then(function (results) {
        var codes = fresh(codesIn(results));
        if (codes.length) {
          state.lastRead = Date.now();
          handle(codes);
        } else if (Date.now() - state.lastRead > ADVICE_AFTER_MS) {
          say(box.dataset.advice, "advice");
        }
      }, function () {
        stop();
        say(box.dataset.unavailable, "bad");
      })
      .then(next);
  }

  function start() {
    var video = document.getElementById("camera");
    say(box.dataset.starting);
    navigator.mediaDevices.getUserMedia({audio: false, video: {facingMode: {ideal: "environment"},
                                                                 width: {ideal: 1280}, height: {ideal: 720}}})
      .then(function (stream) {
        state.stream = stream;
        state.running = true;
        state.lastRead = Date.now();
        video.srcObject = stream;
        video.parentElement.hidden = false;
        document.getElementById("start-camera").hidden = true;
        document.getElementById("stop-camera").hidden = false;
        video.play().catch(function () { /* muted inline video: plays once frames arrive */ });
        say(box.dataset.looking);
        readFrame(video, document.createElement("canvas"));
      }, function () {
        say(box.dataset.denied, "bad");
      });
  }

  function stop() {
    state.running = false;
    if (state.stream) {
      state.stream.getTracks().forEach(function (track) { track.stop(); });
      state.stream = null;
    }
    document.getElementById("camera").parentElement.hidden = true;
    document.getElementById("start-camera").hidden = false;
    document.getElementById("stop-camera").hidden = true;
  }

  if (!box) {
    return;
  }
  if (!window.ZXingWASM || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;  // the section stays hidden: the photo form is the way
  }
  ZXingWASM.prepareZXingModule({overrides: {locateFile: function (path, prefix) {
    return path.slice(-5) === ".wasm" ? box.dataset.wasm : prefix + path;
  }}});
  box.hidden = false;
  document.getElementById("start-camera").addEventListener("click", start);
  document.getElementById("stop-camera").addEventListener("click", function () {
    stop();
    say("");
  });
  window.addEventListener("pagehide", stop);
}());
