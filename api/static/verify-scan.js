// Progressive enhancement of /verify. A certificate's QR code opens /v#MZ2:… (/v#MZ1:… on
// certificates printed before): the payload in the fragment is put in the QR field and verified
// at once. A PDF dropped on the upload box is verified at once. Where the browser has
// BarcodeDetector and a camera, a button fills the QR field from the camera. Without script, the page is a plain form.
(function () {
  "use strict";
  // The payload in the fragment of a /v#… address, whose characters the address percent-encodes.
  function payloadIn(fragment) {
    try {
      return decodeURIComponent(fragment);
    } catch (malformed) {
      return fragment;  // typed in by hand, not percent-encoded
    }
  }
  var qrField = document.getElementById("qr");
  if (qrField && /^#MZ[12]:/.test(window.location.hash) && !document.getElementById("verdict")) {
    qrField.value = payloadIn(window.location.hash.slice(1));
    history.replaceState(null, "", window.location.pathname);
    qrField.form.submit();
    return;
  }
  var dropZone = document.getElementById("drop-zone");
  var pdfInput = document.getElementById("pdf");
  if (dropZone && pdfInput && window.DataTransfer) {
    ["dragenter", "dragover"].forEach(function (type) {
      dropZone.addEventListener(type, function (event) { event.preventDefault(); dropZone.classList.add("dragging"); });
    });
    dropZone.addEventListener("dragleave", function () { dropZone.classList.remove("dragging"); });
    dropZone.addEventListener("drop", function (event) {
      event.preventDefault();
      dropZone.classList.remove("dragging");
      var file = event.dataTransfer && event.dataTransfer.files[0];
      if (!file) return;
      var files = new DataTransfer();
      files.items.add(file);
      pdfInput.files = files.files;
      pdfInput.form.submit();
    });
  }
  var button = document.getElementById("scan-qr");
  if (!button || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var video = document.getElementById("scan-video");
  var field = document.getElementById("qr");
  var status = document.getElementById("scan-status");
  var SCAN_SECONDS = 60;
  button.hidden = false;
  button.addEventListener("click", async function () {
    var stream = null;
    button.disabled = true;
    try {
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      status.textContent = "请将证明上的二维码对准摄像头……";
      var deadline = Date.now() + SCAN_SECONDS * 1000;
      while (Date.now() < deadline) {
        var found = (await detector.detect(video)).find(function (code) { return /MZ[12]:/.test(code.rawValue); });
        if (found) {
          // an address /v#MZ2:… (the payload percent-encoded), or a bare payload as older codes hold
          var at = found.rawValue.search(/MZ[12]:/);
          var payload = found.rawValue.slice(at);
          field.value = found.rawValue.slice(0, at).endsWith("/v#") ? payloadIn(payload) : payload;
          status.textContent = "已读取二维码内容，请点击“核验”。";
          return;
        }
        await new Promise(function (resolve) { setTimeout(resolve, 250); });
      }
      status.textContent = "未识别到电子证明二维码，请重试或粘贴二维码内容。";
    } catch (error) {
      status.textContent = (error.name === "NotAllowedError" ? "未获准使用摄像头" : "无法使用摄像头（没有摄像头或正被占用）") +
        "，请粘贴二维码内容。";
    } finally {
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      video.hidden = true;
      button.disabled = false;
    }
  });
})();
