/*! tenure.js: the first-party tracker of a Tenure store (docs/service.md, "The snippet").
 *
 *   <script src="https://tenure.shop.example/tenure.js"></script>
 *   <script>
 *     tenure.load("WRITE_KEY", {host: "https://tenure.shop.example"});
 *     tenure.page();
 *   </script>
 *
 * tenure.page(name?, properties?), tenure.track(event, properties?),
 * tenure.identify(userId, traits?) send Segment-format JSON to <host>/v1/page|track|identify
 * with the write key in the body. One anonymous id per browser, kept in the first-party
 * cookie `tenure_aid` (1 year, SameSite=Lax); the UTM parameters of the landing URL go into
 * context.campaign for the visit. Each call returns a Promise (resolved, never rejected).
 * tenure.onsite(callback?) reads the visitor's on-site messages from <host>/v1/onsite (the
 * write key as basic auth) and calls back with the list (empty when there is none).
 */
(function (window, document) {
  "use strict";

  var VERSION = "1.0.0";
  var AID_COOKIE = "tenure_aid";
  var UID_KEY = "tenure_uid";
  var CAMPAIGN_KEY = "tenure_campaign";
  var YEAR_SECONDS = 365 * 24 * 60 * 60;
  var UTM = {
    utm_source: "source",
    utm_medium: "medium",
    utm_campaign: "name",
    utm_term: "term",
    utm_content: "content"
  };

  var config = null;
  var pending = [];

  function uuid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") {
      return c.randomUUID();
    }
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) {
      c.getRandomValues(b);
    } else {
      for (var i = 0; i < 16; i++) { b[i] = Math.floor(Math.random() * 256); }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = [];
    for (var j = 0; j < 16; j++) { h.push((b[j] + 0x100).toString(16).slice(1)); }
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" +
      h.slice(6, 8).join("") + "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) {
        return decodeURIComponent(parts[i].slice(eq + 1));
      }
    }
    return null;
  }

  function writeCookie(name, value) {
    var secure = window.location.protocol === "https:" ? "; Secure" : "";
    document.cookie = name + "=" + encodeURIComponent(value) + "; Max-Age=" + YEAR_SECONDS +
      "; Path=/; SameSite=Lax" + secure;
  }

  function anonymousId() {
    var aid = readCookie(AID_COOKIE);
    if (!aid) {
      aid = uuid();
    }
    writeCookie(AID_COOKIE, aid); // (re)written: the year counts from the last visit
    return aid;
  }

  function stored(storage, key, value) {
    try {
      var s = window[storage];
      if (value === undefined) { return s.getItem(key); }
      s.setItem(key, value);
    } catch (e) { /* storage refused (private mode): memory only */ }
    return value;
  }

  function campaign() {
    var found = {};
    var any = false;
    var params = new URLSearchParams(window.location.search);
    for (var key in UTM) {
      if (params.get(key)) { found[UTM[key]] = params.get(key); any = true; }
    }
    if (any) {
      stored("sessionStorage", CAMPAIGN_KEY, JSON.stringify(found));
      return found;
    }
    var kept = stored("sessionStorage", CAMPAIGN_KEY);
    try { return kept ? JSON.parse(kept) : null; } catch (e) { return null; }
  }

  function pageContext() {
    var loc = window.location;
    return {
      path: loc.pathname,
      referrer: document.referrer,
      search: loc.search,
      title: document.title,
      url: loc.href
    };
  }

  function context() {
    var ctx = {
      library: {name: "tenure.js", version: VERSION},
      page: pageContext(),
      userAgent: window.navigator.userAgent,
      locale: window.navigator.language
    };
    var utm = campaign();
    if (utm) { ctx.campaign = utm; }
    return ctx;
  }

  function send(type, body) {
    var url = config.host + "/v1/" + type;
    var text = JSON.stringify(body);
    if (typeof window.fetch === "function") {
      return window.fetch(url, {
        method: "POST",
        keepalive: true,
        mode: "cors",
        credentials: "omit",
        headers: {"Content-Type": "application/json"},
        body: text
      }).then(function (r) { return r.ok; }, function () { return false; });
    }
    if (window.navigator.sendBeacon) {
      var blob = new Blob([text], {type: "text/plain"});
      return Promise.resolve(window.navigator.sendBeacon(url, blob));
    }
    return Promise.resolve(false);
  }

  function later(run) { // before tenure.load: kept, run once loaded
    return new Promise(function (resolve) {
      pending.push(function () { run().then(resolve); });
    });
  }

  function call(type, fields) {
    if (config === null) {
      return later(function () { return call(type, fields); });
    }
    var body = {
      type: type,
      messageId: uuid(),
      anonymousId: anonymousId(),
      timestamp: new Date().toISOString(),
      context: context(),
      writeKey: config.writeKey
    };
    var uid = tenure.userId();
    if (uid) { body.userId = uid; }
    for (var k in fields) {
      if (fields[k] !== undefined) { body[k] = fields[k]; }
    }
    return send(type, body);
  }

  function basicAuth(writeKey) {
    try {
      return "Basic " + window.btoa(writeKey + ":");
    } catch (e) { // a key outside Latin-1: its UTF-8 bytes
      return "Basic " + window.btoa(unescape(encodeURIComponent(writeKey + ":")));
    }
  }

  function messages(callback) {
    if (config === null) {
      return later(function () { return messages(callback); });
    }
    var uid = tenure.userId();
    var who = uid ? "userId=" + encodeURIComponent(uid)
      : "anonymousId=" + encodeURIComponent(anonymousId());
    var done = function (list) {
      if (typeof callback === "function") {
        try { callback(list); } catch (e) { /* the page's callback: its own errors */ }
      }
      return list;
    };
    if (typeof window.fetch !== "function") { return Promise.resolve(done([])); }
    return window.fetch(config.host + "/v1/onsite?" + who, {
      method: "GET",
      mode: "cors",
      credentials: "omit",
      headers: {"Authorization": basicAuth(config.writeKey)}
    }).then(function (r) {
      return r.ok ? r.json() : {messages: []};
    }).then(function (answer) {
      return done((answer && answer.messages) || []);
    }, function () { return done([]); });
  }

  var tenure = {
    VERSION: VERSION,
    load: function (writeKey, options) {
      if (!writeKey) { throw new Error("tenure.load: a write key is required"); }
      var host = (options && options.host) || "";
      config = {writeKey: writeKey, host: host.replace(/\/+$/, "")};
      var queued = pending;
      pending = [];
      for (var i = 0; i < queued.length; i++) {
        queued[i]();
      }
      return tenure;
    },
    page: function (name, properties) {
      var props = Object.assign(pageContext(), properties || {});
      return call("page", {name: name, properties: props});
    },
    track: function (event, properties) {
      if (!event) { throw new Error("tenure.track: an event name is required"); }
      return call("track", {event: event, properties: properties || {}});
    },
    identify: function (userId, traits) {
      if (userId) { stored("localStorage", UID_KEY, String(userId)); }
      return call("identify", {userId: userId ? String(userId) : undefined, traits: traits || {}});
    },
    onsite: messages,
    anonymousId: anonymousId,
    userId: function () { return stored("localStorage", UID_KEY) || null; },
    reset: function () {
      try { window.localStorage.removeItem(UID_KEY); } catch (e) { /* memory only */ }
      writeCookie(AID_COOKIE, uuid());
    }
  };

  // A page may have queued calls in `window.tenure = [["load", ...], ["page"]]` before the
  // script arrived (an async tag): replayed in order.
  var early = Array.isArray(window.tenure) ? window.tenure : [];
  window.tenure = tenure;
  for (var i = 0; i < early.length; i++) {
    var args = early[i];
    if (args && typeof tenure[args[0]] === "function") {
      tenure[args[0]].apply(tenure, Array.prototype.slice.call(args, 1));
    }
  }
})(window, document);
